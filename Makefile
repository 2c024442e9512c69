# clusterctl: `make` builds build/clusterctl; `make check` runs every test.
VERSION = 0.1.0
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
# bats files run this many at a time (tests within a file run in order).
BATS_JOBS ?= 2
PKG_CONFIG ?= pkg-config

WARN = -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wwrite-strings -Werror
CFLAGS ?= -O2 -g
DEPS_CFLAGS = $(shell $(PKG_CONFIG) --cflags libuv jansson zlib yaml-0.1 libmicrohttpd ncursesw 2>/dev/null)
# The binary is the CLI, the daemon and the __exec shim every instance
# starts through, so what each exec loads is paid by every command and
# every spawn (docs/architecture.md).  libyaml, ncurses, libmicrohttpd
# and zlib: headers only; cmd/procfile-yaml.c, cmd/cmd-monit.c,
# core/http.c and core/gz.c load them when first used (util_dlopen).
# libuv and jansson: their static archives, from the same -dev packages
# (libuv-static.pc names libuv's), so that the dynamic loader has only
# libc to load.  Relative relocations packed (DT_RELR, glibc 2.36): fewer
# pages written at start.
STATIC_PKGS = libuv-static jansson
SYSTEM_LIBS = -lpthread -ldl -lrt
DEPS_LIBS = $(shell $(PKG_CONFIG) --libs-only-L $(STATIC_PKGS) 2>/dev/null) \
	-Wl,-Bstatic $(filter-out $(SYSTEM_LIBS),$(shell $(PKG_CONFIG) \
	--libs-only-l $(STATIC_PKGS) 2>/dev/null)) -Wl,-Bdynamic $(SYSTEM_LIBS)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(DEPS_CFLAGS) \
	-DCLUSTERCTL_VERSION='"$(VERSION)"' -MMD -MP
ALL_LDFLAGS = $(LDFLAGS) -Wl,-z,pack-relative-relocs

IPC_SRC = $(sort $(wildcard ipc/*.c))
CORE_SRC = $(sort $(wildcard core/*.c))
CMD_SRC = $(sort $(wildcard cmd/*.c))
UNIT_SRC = $(sort $(wildcard tests/unit/*.c))

IPC_OBJ = $(IPC_SRC:%.c=$(BUILD)/%.o)
CORE_OBJ = $(CORE_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ = $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/unit/%)

# The completion scripts, embedded for `clusterctl completion SHELL`.
COMPLETIONS = completions/clusterctl.bash completions/_clusterctl \
	completions/clusterctl.fish
GEN_OBJ = $(BUILD)/gen/completions.o

SANITIZE = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer

.PHONY: all deps check check-unit check-bats check-asan install demo bench \
	clean format fuzz fuzz-build fuzz-smoke

all: $(BUILD)/clusterctl $(BUILD)/clusterctl.1 \
	$(BUILD)/libclusterctl-share.so $(BUILD)/examples/server

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/gen/completions.c: $(COMPLETIONS) completions/embed.sh
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	@./completions/embed.sh cmd_completion $(COMPLETIONS) > $@.tmp
	@mv $@.tmp $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The man page: docs/clusterctl.1.scd with the command list (generated
# from the command table by `clusterctl __man`) in place of @COMMANDS@.
$(BUILD)/clusterctl.1: docs/clusterctl.1.scd $(BUILD)/clusterctl
	@command -v scdoc >/dev/null || { echo "scdoc is missing: make deps"; exit 1; }
	@echo "  MAN     $@"
	@$(BUILD)/clusterctl __man > $@.cmds
	@awk -v cmds=$@.cmds '/^@COMMANDS@$$/ { while ((getline l < cmds) > 0) \
		print l; next } { print }' docs/clusterctl.1.scd | scdoc > $@.tmp
	@rm -f $@.cmds
	@mv $@.tmp $@

$(BUILD)/clusterctl: $(IPC_OBJ) $(CORE_OBJ) $(CMD_OBJ) $(GEN_OBJ)
	@echo "  LINK    $@"
	@$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(DEPS_LIBS)

# The cluster-mode preload library goes into other programs: never with
# sanitizers (they must come first), no jansson, only libc and libdl.
PRELOAD_CFLAGS = -std=c11 -D_DEFAULT_SOURCE $(WARN) -O2 -g -fPIC \
	-fvisibility=default
$(BUILD)/libclusterctl-share.so: core/preload/share-preload.c
	@mkdir -p $(dir $@)
	$(CC) $(PRELOAD_CFLAGS) -shared -o $@ $< -ldl

# The C example server (examples/c/server.c): plain libc.
$(BUILD)/examples/server: examples/c/server.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g -o $@ $<

# Unit tests link the module they test (ipc, and the parts of core that
# need no loop: backoff arithmetic, the /proc reader, the state table,
# cron expressions).
UNIT_CORE_OBJ = $(BUILD)/core/backoff.o $(BUILD)/core/proc.o \
	$(BUILD)/core/fsm.o $(BUILD)/core/cron.o
$(BUILD)/unit/%: tests/unit/%.c $(IPC_OBJ) $(UNIT_CORE_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	@$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(filter %.o,$^) $(DEPS_LIBS)

# Fuzzing (docs/fuzzing.md): libFuzzer targets under ASan+UBSan, built by
# clang in their own folder.  `make fuzz` runs each for FUZZ_SECONDS on
# the seed corpus in tests/fuzz/corpus/ (new inputs go to build-fuzz/);
# `make fuzz-smoke` runs each for a few seconds (CI).
FUZZ_BUILD = build-fuzz
FUZZ_CC = clang
FUZZ_TARGETS = frame request handlers logcut preload procfile
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all \
	-fsanitize=fuzzer-no-link $(DEPS_CFLAGS) \
	-DCLUSTERCTL_VERSION='"$(VERSION)"'
FUZZ_IPC = $(IPC_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_CORE = $(CORE_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_BIN = $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz-%)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/fuzz-frame $(FUZZ_BUILD)/fuzz-request: $(FUZZ_IPC)
$(FUZZ_BUILD)/fuzz-handlers: $(FUZZ_IPC) $(FUZZ_CORE)
$(FUZZ_BUILD)/fuzz-logcut: $(FUZZ_IPC) $(filter-out %/capture.o,$(FUZZ_CORE)) \
	core/capture.c
$(FUZZ_BUILD)/fuzz-preload: $(FUZZ_IPC) core/preload/share-preload.c
# The process-file loader without the rest of the CLI (the harness gives
# the few helpers it calls).
$(FUZZ_BUILD)/fuzz-procfile: $(FUZZ_IPC) $(patsubst %.c,$(FUZZ_BUILD)/%.o,\
	$(filter-out cmd/procfile-run.c,$(wildcard cmd/procfile*.c)))
$(FUZZ_BUILD)/fuzz-%: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	@echo "  FUZZLD  $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ \
		$(filter tests/fuzz/%.c %.o,$^) $(DEPS_LIBS) -ldl

fuzz-build: deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) ./tests/fuzz/run $(FUZZ_BUILD) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	@FUZZ_SECONDS=3 ./tests/fuzz/run $(FUZZ_BUILD) $(FUZZ_TARGETS)

deps:
	@./.ci/install-deps

check: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@BATS_JOBS=$(BATS_JOBS) ./tests/run $(BUILD)

check-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan CFLAGS="$(SANITIZE)" \
		LDFLAGS="-fsanitize=address,undefined" all \
		$(UNIT_BIN:$(BUILD)/%=build-asan/%)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1 BATS_JOBS=$(BATS_JOBS) \
		./tests/run build-asan

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/clusterctl $(DESTDIR)$(PREFIX)/bin/clusterctl
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 644 $(BUILD)/clusterctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/clusterctl.1
	install -m 644 completions/clusterctl.bash \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/clusterctl
	install -m 644 completions/_clusterctl \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_clusterctl
	install -m 644 completions/clusterctl.fish \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/clusterctl.fish
	install -d $(DESTDIR)$(PREFIX)/lib/clusterctl
	install -m 644 $(BUILD)/libclusterctl-share.so \
		$(DESTDIR)$(PREFIX)/lib/clusterctl/libclusterctl-share.so

demo: deps all
	@./examples/demo.sh $(BUILD)/clusterctl

# The benchmark beside pm2 (never part of check): BENCH=quick for about a
# minute; results in tests/bench/results/latest.{md,json}.
bench: all
	@BENCH=$(BENCH) ./tests/bench/run

format:
	clang-format -i $(IPC_SRC) $(CORE_SRC) $(CMD_SRC) ipc/*.h core/*.h cmd/*.h

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) build-asan build-fuzz -name '*.d' 2>/dev/null)
