build-san/common/fileset.o: common/fileset.c common/fileset.h \
 common/status.h common/mem.h
common/fileset.h:
common/status.h:
common/mem.h:
