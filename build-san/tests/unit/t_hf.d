build-san/tests/unit/t_hf.o: tests/unit/t_hf.c common/dtype.h \
 common/fileset.h common/status.h import/import.h common/bnt.h \
 common/kv.h common/vocab.h common/kv.h common/status.h common/vocab.h \
 common/json.h
common/dtype.h:
common/fileset.h:
common/status.h:
import/import.h:
common/bnt.h:
common/kv.h:
common/vocab.h:
common/kv.h:
common/status.h:
common/vocab.h:
common/json.h:
