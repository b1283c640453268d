build-san/tests/unit/t_json.o: tests/unit/t_json.c common/json.h \
 common/status.h
common/json.h:
common/status.h:
