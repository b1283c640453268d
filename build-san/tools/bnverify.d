build-san/tools/bnverify.o: tools/bnverify.c common/bnt.h common/kv.h \
 common/status.h common/vocab.h common/dtype.h common/err.h common/mem.h \
 common/parse.h common/version.h common/xio.h
common/bnt.h:
common/kv.h:
common/status.h:
common/vocab.h:
common/dtype.h:
common/err.h:
common/mem.h:
common/parse.h:
common/version.h:
common/xio.h:
