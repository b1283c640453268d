build-san/import/detect.o: import/detect.c import/import.h common/bnt.h \
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
