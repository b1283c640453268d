build-san/import/hf.o: import/hf.c common/json.h common/status.h \
 common/mem.h import/safetensors.h common/bnt.h common/kv.h \
 common/vocab.h common/fileset.h import/import.h common/kv.h \
 common/status.h common/vocab.h
common/json.h:
common/status.h:
common/mem.h:
import/safetensors.h:
common/bnt.h:
common/kv.h:
common/vocab.h:
common/fileset.h:
import/import.h:
common/kv.h:
common/status.h:
common/vocab.h:
