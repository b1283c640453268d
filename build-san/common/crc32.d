build-san/common/crc32.o: common/crc32.c common/crc32.h
common/crc32.h:
