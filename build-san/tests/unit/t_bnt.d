build-san/tests/unit/t_bnt.o: tests/unit/t_bnt.c common/bnt.h common/kv.h \
 common/status.h common/vocab.h common/crc32.h common/dtype.h \
 tests/unit/check.h
common/bnt.h:
common/kv.h:
common/status.h:
common/vocab.h:
common/crc32.h:
common/dtype.h:
tests/unit/check.h:
