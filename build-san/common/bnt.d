build-san/common/bnt.o: common/bnt.c common/bnt.h common/kv.h \
 common/status.h common/vocab.h common/crc32.h common/dtype.h \
 common/mem.h
common/bnt.h:
common/kv.h:
common/status.h:
common/vocab.h:
common/crc32.h:
common/dtype.h:
common/mem.h:
