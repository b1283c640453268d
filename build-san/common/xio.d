build-san/common/xio.o: common/xio.c common/err.h common/xio.h
common/err.h:
common/xio.h:
