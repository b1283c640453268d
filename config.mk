# bntools version and build defaults; override on the make command line.
VERSION = 0.1.0

PREFIX = /usr/local
MANPREFIX = $(PREFIX)/share/man

# make CROSS=aarch64-linux-gnu-: a cross build (README, "ARM64")
CROSS =
CC = $(CROSS)$(if $(CROSS),gcc,cc)
AR = $(CROSS)ar
NM = $(CROSS)nm
CPPFLAGS = -D_POSIX_C_SOURCE=200809L -DBN_VERSION=\"$(VERSION)\" \
	-Icommon -Iimport -Iexport -Ikernels -Imodel -Iinspect -Itools/lib
CFLAGS = -std=c11 -O2 -g -ffp-contract=off -Wall -Wextra -Wpedantic \
	-Wshadow -Wstrict-prototypes -Wmissing-prototypes
LDFLAGS =
LDLIBS = -larchive -lzstd -lpthread -lm
# bnserve only: libmicrohttpd (libmicrohttpd-dev)
MHD_LIBS = -lmicrohttpd

# only kernels/x86/*_avx2.o get these (x86-64 targets only)
AVX2FLAGS = -mavx2 -mfma -mf16c
# and kernels/x86/*_avx512.o these as well
AVX512FLAGS = -mavx512f -mavx512bw -mavx512vl -mavx512vnni
# common/crc32_hw.o only (x86-64 targets only)
SSE42FLAGS = -msse4.2
# only kernels/arm/*_dotprod.o get these (aarch64 targets only)
DOTPRODFLAGS = -march=armv8.2-a+dotprod

# make SANITIZE=1: AddressSanitizer and UndefinedBehaviorSanitizer
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all

# make check-arm64: the emulator and where it finds the ARM64 loader and
# libraries: / is Debian's multiarch libc6:arm64 (the one the :arm64 -dev
# packages pull in); the cross toolchain's /usr/aarch64-linux-gnu libc
# (2.36-8cross1) hangs in pthread_create under qemu-aarch64 7.2
QEMU = qemu-aarch64
QEMU_LD_PREFIX = /
