build-san/tests/unit/t_torch.o: tests/unit/t_torch.c common/bnt.h \
 common/kv.h common/status.h common/vocab.h common/dtype.h \
 common/fileset.h import/import.h common/kv.h common/status.h \
 common/vocab.h import/pickle.h tests/unit/check.h
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
import/pickle.h:
tests/unit/check.h:
