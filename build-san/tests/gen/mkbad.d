build-san/tests/gen/mkbad.o: tests/gen/mkbad.c common/bnt.h common/kv.h \
 common/status.h common/vocab.h common/crc32.h common/dtype.h
common/bnt.h:
common/kv.h:
common/status.h:
common/vocab.h:
common/crc32.h:
common/dtype.h:
