build-san/common/vocab.o: common/vocab.c common/mem.h common/vocab.h \
 common/kv.h common/status.h
common/mem.h:
common/vocab.h:
common/kv.h:
common/status.h:
