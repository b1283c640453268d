build-san/tests/gen/mkgguf.o: tests/gen/mkgguf.c
