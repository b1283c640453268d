build-san/common/dtype.o: common/dtype.c common/dtype.h common/mem.h
common/dtype.h:
common/mem.h:
