build-san/tools/bnpack.o: tools/bnpack.c common/bnt.h common/kv.h \
 common/status.h common/vocab.h common/dtype.h common/err.h \
 import/import.h common/fileset.h common/kv.h common/status.h \
 common/vocab.h common/parse.h common/version.h common/xio.h
common/bnt.h:
common/kv.h:
common/status.h:
common/vocab.h:
common/dtype.h:
common/err.h:
import/import.h:
common/fileset.h:
common/kv.h:
common/status.h:
common/vocab.h:
common/parse.h:
common/version.h:
common/xio.h:
