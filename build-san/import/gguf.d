build-san/import/gguf.o: import/gguf.c common/bnt.h common/kv.h \
 common/status.h common/vocab.h common/dtype.h common/fileset.h \
 import/import.h common/kv.h common/status.h common/vocab.h common/mem.h
common/bnt.h:
common/kv.h:
common/status.h:
common/vocab.h:
common/dtype.h:
common/fileset.h:
import/import.h:
common/kv.h:
common/status.h:
common/vocab.h:
common/mem.h:
