# bntools version and build defaults; override on the make command line.
VERSION = 0.1.0

PREFIX = /usr/local
MANPREFIX = $(PREFIX)/share/man

CC = cc
AR = ar
CPPFLAGS = -D_POSIX_C_SOURCE=200809L -DBN_VERSION=\"$(VERSION)\" \
	-Icommon -Iimport -Iexport -Ikernels -Imodel
CFLAGS = -std=c11 -O2 -g -ffp-contract=off -Wall -Wextra -Wpedantic \
	-Wshadow -Wstrict-prototypes -Wmissing-prototypes
LDFLAGS =
LDLIBS = -larchive -lzstd -lpthread -lm

# only kernels/x86/*_avx2.o get these
AVX2FLAGS = -mavx2 -mfma -mf16c
# common/crc32_hw.o only
SSE42FLAGS = -msse4.2

# make SANITIZE=1: AddressSanitizer and UndefinedBehaviorSanitizer
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
