# bntools: plain make.  See README for the targets.
include config.mk

# make SANITIZE=1 builds into build-san/ so both trees can coexist
ifeq ($(SANITIZE),1)
BUILD = build-san
BINDIR = build-san/bin
CFLAGS += $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
else
BUILD = build
BINDIR = bin
endif

# every tools/NAME.c is a tool
TOOLS = $(sort $(basename $(notdir $(wildcard tools/*.c))))

COMMON_SRC = $(sort $(wildcard common/*.c))
IMPORT_SRC = $(sort $(wildcard import/*.c))
EXPORT_SRC = $(sort $(wildcard export/*.c))
MODEL_SRC = $(sort $(wildcard model/*.c))
KERNEL_SRC = $(sort $(wildcard kernels/*.c kernels/ref/*.c kernels/x86/*.c))
UNIT_SRC = $(sort $(wildcard tests/unit/t_*.c))
GEN_SRC = $(sort $(wildcard tests/gen/*.c))

COMMON_OBJ = $(COMMON_SRC:%.c=$(BUILD)/%.o) $(IMPORT_SRC:%.c=$(BUILD)/%.o) \
	$(EXPORT_SRC:%.c=$(BUILD)/%.o)
KERNEL_OBJ = $(KERNEL_SRC:%.c=$(BUILD)/%.o)
MODEL_OBJ = $(MODEL_SRC:%.c=$(BUILD)/%.o)
LIBCOMMON = $(BUILD)/libcommon.a
LIBKERNELS = $(BUILD)/libkernels.a
LIBMODEL = $(BUILD)/libmodel.a
LIBS = $(LIBMODEL) $(LIBKERNELS) $(LIBCOMMON)

BINS = $(TOOLS:%=$(BINDIR)/%)
UNIT = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
GEN = $(GEN_SRC:tests/gen/%.c=$(BUILD)/tests/%)
MAN = $(sort $(wildcard man/man1/*.1 man/man5/*.5 man/man7/*.7))

all: $(BINS) $(UNIT) $(GEN)

.SECONDARY:
.PHONY: all check check-unit check-cli lint install uninstall clean fuzz bench

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# only these objects may contain AVX2 or SSE4.2 instructions
$(BUILD)/kernels/x86/%.o: CFLAGS += $(AVX2FLAGS)
$(BUILD)/common/crc32_hw.o: CFLAGS += $(SSE42FLAGS)

$(LIBCOMMON): $(COMMON_OBJ)
	@rm -f $@
	$(AR) rcs $@ $(COMMON_OBJ)

$(LIBMODEL): $(MODEL_OBJ)
	@rm -f $@
	$(AR) rcs $@ $(MODEL_OBJ)

$(LIBKERNELS): $(KERNEL_OBJ)
	@rm -f $@
	$(AR) rcs $@ $(KERNEL_OBJ)

$(BINDIR)/%: $(BUILD)/tools/%.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/gen/%.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

# make check: unit tests, BATS suites, man-page lint; one closing tally
check: all
	@BUILD=$(BUILD) BINDIR=$(BINDIR) UNIT="$(UNIT)" MAN="$(MAN)" \
	    sh tests/run.sh

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

bench: all
	sh bench/pack

clean:
	rm -rf build build-san bin

-include $(shell find build build-san -name '*.d' 2>/dev/null)
