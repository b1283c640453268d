# bntools: plain make.  See README for the targets.
include config.mk

# the target: x86_64, aarch64, ... (the compiler's, so CC=clang works)
ARCH := $(firstword $(subst -, ,$(shell $(CC) -dumpmachine)))

# make CROSS=aarch64-linux-gnu- builds into build-arm64/ and bin-arm64/,
# make SANITIZE=1 into build-san/, so the trees can coexist
ifneq ($(CROSS),)
TREE = -$(if $(filter aarch64,$(ARCH)),arm64,$(ARCH))
endif
ifeq ($(SANITIZE),1)
BUILD = build$(TREE)-san
BINDIR = $(BUILD)/bin
CFLAGS += $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
else ifeq ($(MPI),1)
# make MPI=1: bnquant --train across processes, with Open MPI's mpicc
BUILD = build$(TREE)-mpi
BINDIR = $(BUILD)/bin
CC = mpicc
CPPFLAGS += -DBN_MPI
else
BUILD = build$(TREE)
BINDIR = bin$(TREE)
endif

# every tools/NAME.c is a tool
TOOLS = $(sort $(basename $(notdir $(wildcard tools/*.c))))

COMMON_SRC = $(sort $(wildcard common/*.c))
TOOLLIB_SRC = $(sort $(wildcard tools/lib/*.c))
IMPORT_SRC = $(sort $(wildcard import/*.c))
EXPORT_SRC = $(sort $(wildcard export/*.c))
MODEL_SRC = $(sort $(wildcard model/*.c))
INSPECT_SRC = $(sort $(wildcard inspect/*.c))
# SIMD kernels for the target only: kernels/x86/ on x86-64,
# kernels/arm/ on aarch64, neither elsewhere
KERNEL_SRC = $(sort $(wildcard kernels/*.c kernels/ref/*.c \
	$(if $(filter x86_64,$(ARCH)),kernels/x86/*.c) \
	$(if $(filter aarch64,$(ARCH)),kernels/arm/*.c)))
UNIT_SRC = $(sort $(wildcard tests/unit/t_*.c))
GEN_SRC = $(sort $(wildcard tests/gen/*.c))

COMMON_OBJ = $(COMMON_SRC:%.c=$(BUILD)/%.o)
KERNEL_OBJ = $(KERNEL_SRC:%.c=$(BUILD)/%.o)
IMPORT_OBJ = $(IMPORT_SRC:%.c=$(BUILD)/%.o)
EXPORT_OBJ = $(EXPORT_SRC:%.c=$(BUILD)/%.o)
MODEL_OBJ = $(MODEL_SRC:%.c=$(BUILD)/%.o)
INSPECT_OBJ = $(INSPECT_SRC:%.c=$(BUILD)/%.o)
TOOLLIB_OBJ = $(TOOLLIB_SRC:%.c=$(BUILD)/%.o)
LIB_OBJ = $(COMMON_OBJ) $(KERNEL_OBJ) $(IMPORT_OBJ) $(EXPORT_OBJ) \
	$(MODEL_OBJ) $(INSPECT_OBJ) $(TOOLLIB_OBJ)
LIBCOMMON = $(BUILD)/libcommon.a
LIBKERNELS = $(BUILD)/libkernels.a
LIBIMPORT = $(BUILD)/libimport.a
LIBEXPORT = $(BUILD)/libexport.a
LIBMODEL = $(BUILD)/libmodel.a
LIBINSPECT = $(BUILD)/libinspect.a
# the tools' own helpers (diagnostics, output files, --version): they
# print and exit, so no library links them
LIBTOOL = $(BUILD)/libtool.a
# The floors, top to bottom (README, "Architecture"): a library uses
# only the libraries after it, so one pass of the linker resolves them.
# import and export share a floor and do not use each other.  make
# check-floors checks it with nm.
FLOORS = $(LIBINSPECT) $(LIBMODEL) $(LIBEXPORT):$(LIBIMPORT) $(LIBKERNELS) \
	$(LIBCOMMON)
LIBS = $(LIBINSPECT) $(LIBMODEL) $(LIBEXPORT) $(LIBIMPORT) $(LIBKERNELS) \
	$(LIBCOMMON)

BINS = $(TOOLS:%=$(BINDIR)/%)
UNIT = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
GEN = $(GEN_SRC:tests/gen/%.c=$(BUILD)/tests/%)
MAN = $(sort $(wildcard man/man1/*.1 man/man5/*.5 man/man7/*.7))

all: $(BINS) $(UNIT) $(GEN) $(BUILD)/tests/floors

.SECONDARY:

.PHONY: all check check-mpi check-unit check-cli lint install uninstall clean fuzz bench \
	check-arm64 check-arm64-run check-floors

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# only these objects may contain AVX2 or SSE4.2 instructions (and only
# kernels/x86/*_avx512.o AVX-512 ones)
ifeq ($(ARCH),x86_64)
$(BUILD)/kernels/x86/%.o: CFLAGS += $(AVX2FLAGS)
$(BUILD)/kernels/x86/%_avx512.o: CFLAGS += $(AVX512FLAGS)
$(BUILD)/common/crc32_hw.o: CFLAGS += $(SSE42FLAGS)
endif
# and only these ARMv8.2 dot-product instructions
ifeq ($(ARCH),aarch64)
$(BUILD)/kernels/arm/%_dotprod.o: CFLAGS += $(DOTPRODFLAGS)
endif

$(LIBCOMMON): $(COMMON_OBJ)
	@rm -f $@
	$(AR) rcs $@ $(COMMON_OBJ)

$(LIBKERNELS): $(KERNEL_OBJ)
	@rm -f $@
	$(AR) rcs $@ $(KERNEL_OBJ)

$(LIBIMPORT): $(IMPORT_OBJ)
	@rm -f $@
	$(AR) rcs $@ $(IMPORT_OBJ)

$(LIBEXPORT): $(EXPORT_OBJ)
	@rm -f $@
	$(AR) rcs $@ $(EXPORT_OBJ)

$(LIBMODEL): $(MODEL_OBJ)
	@rm -f $@
	$(AR) rcs $@ $(MODEL_OBJ)

$(LIBINSPECT): $(INSPECT_OBJ)
	@rm -f $@
	$(AR) rcs $@ $(INSPECT_OBJ)

$(LIBTOOL): $(TOOLLIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $(TOOLLIB_OBJ)

$(BINDIR)/%: $(BUILD)/tools/%.o $(LIBTOOL) $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBTOOL) $(LIBS) $(LDLIBS)

# the HTTP server links libmicrohttpd; no other tool or library does
$(BINDIR)/bnserve: LDLIBS += $(MHD_LIBS)
# and serves its chat page from the binary: tools/bnserve-page.html's
# bytes as the items of a C array
$(BUILD)/tools/bnserve-page.h: tools/bnserve-page.html
	@mkdir -p $(@D)
	od -An -v -tx1 tools/bnserve-page.html | \
	    sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g' > $@.tmp && mv $@.tmp $@
$(BUILD)/tools/bnserve.o: $(BUILD)/tools/bnserve-page.h
$(BUILD)/tools/bnserve.o: CPPFLAGS += -I$(BUILD)/tools

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/gen/%.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

# the floors check as a test make check runs (tests/floors.sh): libtool.a
# sits on top of them all, so no library may call a tool's helper
$(BUILD)/tests/floors: tests/floors.sh Makefile config.mk
	@mkdir -p $(@D)
	printf '#!/bin/sh\nexec sh tests/floors.sh %s %s\n' '$(NM)' \
	    '$(LIBTOOL) $(FLOORS)' >$@
	chmod +x $@

check-floors: $(BUILD)/tests/floors $(LIBTOOL) $(LIBS)
	@./$(BUILD)/tests/floors

# make check-mpi: bnquant --train across processes (needs mpicc and
# mpirun: libopenmpi-dev, openmpi-bin); its own tree, one closing tally
check-mpi:
	$(MAKE) MPI=1 all
	@BUILD=build-mpi BINDIR=build-mpi/bin UNIT= MAN= BATS_DIRS=tests/mpi \
	    sh tests/run.sh

# make check-arm64: the ARM64 cross build (build-arm64/, bin-arm64/),
# its kernel tests and model checks under qemu-aarch64 with and without
# the sdot instruction (tests/arm64.sh); one closing tally
ARM64_CROSS = aarch64-linux-gnu-
check-arm64:
	@$(MAKE) --no-print-directory CROSS=$(ARM64_CROSS) check-arm64-run

# (bnserve left out: tests/arm64.sh does not run it, and it needs the
# arm64 libmicrohttpd-dev, which only a full cross build does)
check-arm64-run: $(filter-out $(BINDIR)/bnserve,$(BINS)) \
    $(BUILD)/tests/t_kernels $(BUILD)/tests/t_train
	@BUILD=$(BUILD) BINDIR=$(BINDIR) QEMU=$(QEMU) \
	    QEMU_LD_PREFIX=$(QEMU_LD_PREFIX) sh tests/arm64.sh

# make check: unit tests, BATS suites, man-page lint; one closing tally
check: deps all
	@BUILD=$(BUILD) BINDIR=$(BINDIR) UNIT="$(UNIT) $(BUILD)/tests/floors" \
	    MAN="$(MAN)" sh tests/run.sh

lint:
	mandoc -Tlint -Wwarning $(MAN)

install: $(BINS)
	mkdir -p $(DESTDIR)$(PREFIX)/bin
	for t in $(TOOLS); do cp -f $(BINDIR)/$$t $(DESTDIR)$(PREFIX)/bin/; \
	    chmod 755 $(DESTDIR)$(PREFIX)/bin/$$t; done
	for m in $(MAN); do s=$${m#man/}; s=$${s%%/*}; \
	    mkdir -p $(DESTDIR)$(MANPREFIX)/$$s; \
	    cp -f $$m $(DESTDIR)$(MANPREFIX)/$$s/; \
	    chmod 644 $(DESTDIR)$(MANPREFIX)/$$s/$${m##*/}; done

uninstall:
	for t in $(TOOLS); do rm -f $(DESTDIR)$(PREFIX)/bin/$$t; done
	for m in $(MAN); do s=$${m#man/}; rm -f $(DESTDIR)$(MANPREFIX)/$$s; done

# make demo: build the tools, then pack, check and run the model shipped
# in models/: a greedy sample and the perplexity on the validation text
DEMO_MODEL = models/austen-ternary.bnt
DEMO_PROMPT = It is a truth universally acknowledged
DEMO_TEXT = tests/fixtures/austen-val.txt

demo: deps $(BINS)
	$(BINDIR)/bnpack $(DEMO_MODEL) | $(BINDIR)/bnverify -p -o $(BUILD)/demo.bnt
	$(BINDIR)/bnrun -m $(BUILD)/demo.bnt --temp 0 -n 48 -p "$(DEMO_PROMPT)"
	$(BINDIR)/bnrun -m $(BUILD)/demo.bnt --perplexity $(DEMO_TEXT)

# make deps: what make demo (the build set) or make check (the check
# set: also BATS, mandoc, Python, Chromium and the npm peers) needs, by
# tests/deps.sh: as root it installs what is missing (apt-get, npm ci),
# otherwise it prints the commands and fails.  demo and check run it
# before they compile anything; make deps-ci adds .ci/run's suites.
DEPS_SET = $(if $(filter check deps,$(MAKECMDGOALS)),check,build)

deps:
	@CC="$(CC)" sh tests/deps.sh $(DEPS_SET)

deps-ci:
	@CC="$(CC)" sh tests/deps.sh ci

# make check-fresh: make demo and make check in a fresh Debian 12 root
# (debootstrap, chroot; as root), logs in tests/fresh/; see its run
check-fresh:
	sh tests/fresh/run

ifneq ($(filter demo check deps,$(MAKECMDGOALS)),)
$(LIB_OBJ) $(TOOLS:%=$(BUILD)/tools/%.o) \
    $(UNIT_SRC:%.c=$(BUILD)/%.o) $(GEN_SRC:%.c=$(BUILD)/%.o): | deps
endif
.PHONY: demo deps deps-ci check-fresh

bench: all
	sh bench/pack

# every tree this Makefile makes, and only those
clean:
	rm -rf build bin build-san build-mpi build-arm64 build-arm64-san \
	    build-arm64-mpi bin-arm64 build-fuzz build-tsan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# make fuzz FUZZ_SECONDS=N: the libFuzzer targets of tests/fuzz/ (one
# per parser), built with clang under ASan+UBSan into build-fuzz/, each
# run N seconds; see tests/fuzz/README.  make check-tsan: t_kernels,
# t_train and the thread-pool stress test built with ThreadSanitizer
# into build-tsan/ and run.  Both trees are separate from $(BUILD).
FUZZ_CC = clang
FUZZ_ARCH := $(firstword $(subst -, ,$(shell $(FUZZ_CC) -dumpmachine)))
FUZZ_SECONDS = 30
FUZZ_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_SRC = $(sort $(wildcard tests/fuzz/fz_*.c))
FUZZ_BINS = $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
# every library but inspect's in one libbn.a (the linker resolves within
# an archive, so it needs no order; make check-floors checks the floors)
LIB_SRC = $(COMMON_SRC) $(IMPORT_SRC) $(EXPORT_SRC) $(MODEL_SRC) \
	$(KERNEL_SRC)
TSAN_FLAGS = -fsanitize=thread -fno-omit-frame-pointer
TSAN_TESTS = build-tsan/tests/t_kernels build-tsan/tests/t_train \
	build-tsan/tests/t_pool

build-fuzz/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(CFLAGS) -O1 $(FUZZ_FLAGS) \
	    -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

build-tsan/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(TSAN_FLAGS) -MMD -MP -c -o $@ $<

ifeq ($(FUZZ_ARCH),x86_64)
build-fuzz/kernels/x86/%.o build-tsan/kernels/x86/%.o: CFLAGS += $(AVX2FLAGS)
build-fuzz/kernels/x86/%_avx512.o build-tsan/kernels/x86/%_avx512.o: \
	CFLAGS += $(AVX512FLAGS)
build-fuzz/common/crc32_hw.o build-tsan/common/crc32_hw.o: \
	CFLAGS += $(SSE42FLAGS)
endif
ifeq ($(FUZZ_ARCH),aarch64)
build-fuzz/kernels/arm/%_dotprod.o build-tsan/kernels/arm/%_dotprod.o: \
	CFLAGS += $(DOTPRODFLAGS)
endif

build-fuzz/libbn.a: $(LIB_SRC:%.c=build-fuzz/%.o)
	@rm -f $@
	@echo '*' > build-fuzz/.gitignore	# a build tree, not sources
	$(AR) rcs $@ $^

build-fuzz/fz_%: build-fuzz/tests/fuzz/fz_%.o build-fuzz/libbn.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

build-tsan/libbn.a: $(LIB_SRC:%.c=build-tsan/%.o)
	@rm -f $@
	@echo '*' > build-tsan/.gitignore	# a build tree, not sources
	$(AR) rcs $@ $^

build-tsan/tests/%: build-tsan/tests/unit/%.o build-tsan/libbn.a
	$(CC) $(TSAN_FLAGS) -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	sh tests/fuzz/run.sh $(FUZZ_SECONDS) build-fuzz $(FUZZ_BINS)

# the name .ci/run's tally expects
check-fuzz: fuzz

# one closing tally, as make check prints
check-tsan: $(TSAN_TESTS)
	@p=0; f=0; for t in $(TSAN_TESTS); do echo "== $$t"; \
	    if TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	    ./$$t; then p=$$((p + 1)); else f=$$((f + 1)); fi; done; \
	    echo "$$p passed, $$f failed"; [ $$f -eq 0 ]

.PHONY: fuzz fuzz-build check-fuzz check-tsan
-include $(shell find build-fuzz build-tsan -name '*.d' 2>/dev/null)
