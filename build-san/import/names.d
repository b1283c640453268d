build-san/import/names.o: import/names.c import/import.h common/bnt.h \
 common/kv.h common/status.h common/vocab.h common/fileset.h common/kv.h \
 common/status.h common/vocab.h
import/import.h:
common/bnt.h:
common/kv.h:
common/status.h:
common/vocab.h:
common/fileset.h:
common/kv.h:
common/status.h:
common/vocab.h:
