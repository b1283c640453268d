build-san/common/version.o: common/version.c common/crc32.h common/err.h \
 common/version.h
common/crc32.h:
common/err.h:
common/version.h:
