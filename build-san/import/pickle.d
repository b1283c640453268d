build-san/import/pickle.o: import/pickle.c common/mem.h import/pickle.h \
 common/status.h
common/mem.h:
import/pickle.h:
common/status.h:
