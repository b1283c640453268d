build-san/common/json.o: common/json.c common/json.h common/status.h \
 common/mem.h
common/json.h:
common/status.h:
common/mem.h:
