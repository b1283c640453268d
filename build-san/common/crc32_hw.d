build-san/common/crc32_hw.o: common/crc32_hw.c common/crc32.h
common/crc32.h:
