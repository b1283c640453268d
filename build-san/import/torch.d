build-san/import/torch.o: import/torch.c common/bnt.h common/kv.h \
 common/status.h common/vocab.h common/dtype.h common/fileset.h \
 import/import.h common/kv.h common/status.h common/vocab.h common/mem.h \
 import/pickle.h
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
import/pickle.h:
