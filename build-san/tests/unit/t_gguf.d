build-san/tests/unit/t_gguf.o: tests/unit/t_gguf.c common/bnt.h \
 common/kv.h common/status.h common/vocab.h common/dtype.h \
 common/fileset.h import/import.h common/kv.h common/status.h \
 common/vocab.h
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
