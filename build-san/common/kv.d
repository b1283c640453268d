build-san/common/kv.o: common/kv.c common/kv.h common/mem.h \
 common/parse.h
common/kv.h:
common/mem.h:
common/parse.h:
