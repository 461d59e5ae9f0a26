# livestatus: make | make test | make demo | make bench | make package
#
# Objects go to $(BUILD)/obj; `make SAN=1` builds into build/asan with
# -fsanitize=address,undefined (make test runs both).  Every program links
# the shared library code (common/, sql/) once; the two that talk to
# Mattermost (watcher, responder) link the Mattermost layer (mm/) too; unit
# tests link every module but the programs' main.c.

VERSION := $(shell cat VERSION)
SAN ?=
ifeq ($(SAN),1)
BUILD ?= build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
SANFLAGS :=
endif

CC ?= cc
PKGS := libcurl json-c sqlite3 libzstd
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# The daemons load libcurl only when a feature needs it (common/lcurl.h), so
# only the command-line client links it.
PKG_LIBS = $(shell pkg-config --libs $(filter-out libcurl,$(PKGS)) 2>/dev/null)
CURL_LIBS = $(shell pkg-config --libs libcurl 2>/dev/null)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)
WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wformat=2 -Wno-format-nonliteral
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DLS_VERSION='"$(VERSION)"' $(WARN) $(CFLAGS) \
	$(SANFLAGS) $(PKG_CFLAGS) -I. -MMD -MP
LDLIBS_ALL = -lfcgi $(PKG_LIBS) -lpthread

LIB_SRC := $(wildcard common/*.c) $(wildcard sql/*.c)
MM_SRC := $(wildcard mm/*.c)
FCGI_SRC := $(filter-out fcgi/main.c,$(wildcard fcgi/*.c))
WATCHER_SRC := $(filter-out watcher/main.c,$(wildcard watcher/*.c))
CLI_SRC := $(filter-out cli/main.c,$(wildcard cli/*.c))
UNIT_SRC := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_OBJ := $(call obj,$(LIB_SRC)) $(BUILD)/obj/gen/schema_sql.o
MM_OBJ := $(call obj,$(MM_SRC))
FCGI_OBJ := $(call obj,$(FCGI_SRC))
WATCHER_OBJ := $(call obj,$(WATCHER_SRC))
CLI_OBJ := $(call obj,$(CLI_SRC))
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

PROGRAMS := $(BUILD)/livestatus-fcgi
ifneq ($(wildcard watcher/main.c),)
PROGRAMS += $(BUILD)/livestatus-watcher
endif
ifneq ($(wildcard cli/main.c),)
PROGRAMS += $(BUILD)/live-status
endif

.PHONY: all deps test test-openclaw test-repeat units check check-san demo bench package lint clean install uninstall
all: $(PROGRAMS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# sql/schema.sql becomes a C string the store applies on open.
$(BUILD)/gen/schema_sql.c: sql/schema.sql scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh store_schema_sql $< > $@
$(BUILD)/obj/gen/schema_sql.o: $(BUILD)/gen/schema_sql.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/livestatus-fcgi: $(call obj,fcgi/main.c) $(FCGI_OBJ) $(MM_OBJ) $(LIB_OBJ)
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS_ALL)
$(BUILD)/livestatus-watcher: $(call obj,watcher/main.c) $(WATCHER_OBJ) $(MM_OBJ) $(LIB_OBJ)
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS_ALL)
$(BUILD)/live-status: $(call obj,cli/main.c) $(CLI_OBJ) $(LIB_OBJ)
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS_ALL) $(CURL_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(FCGI_OBJ) $(WATCHER_OBJ) $(MM_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter-out tests/fuzz/%,$(filter %.c %.o,$^)) $(LDLIBS_ALL) $(CMOCKA_LIBS)

units: $(UNIT_BIN)

# Installs the Debian packages the build and tests need (quiet when present;
# make demo installs the smaller set of deps-demo).
deps:
	@sh scripts/deps.sh

# The whole suite, then again under ASan/UBSan.  Ends with the runner's
# "N passed, N failed" line; exits non-zero on any failure.
test: deps
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory all units
	@$(MAKE) --no-print-directory SAN=1 all units
	@sh tests/openclaw/install.sh >/dev/null
	@python3 tests/run.py --build build --asan-build build/asan --openclaw

# Real OpenClaw (tests/openclaw: Node 24 and openclaw pinned by the lockfiles there,
# installed into ${LIVESTATUS_CACHE:-/var/cache/livestatus-test}/openclaw, kept between
# runs) driven by our mock model, followed by the real watcher, responder and nginx.
# Fails with a clear message when npm cannot install them.  make test runs it too.
test-openclaw: all
	@sh tests/openclaw/install.sh >/dev/null
	@python3 tests/run.py --build build --openclaw-only

# The whole suite N times in a row (default 5) while busy loops keep every
# core loaded (LOAD=0: no load); one line per run with its time.
test-repeat: deps
	@$(MAKE) --no-print-directory all units
	@$(MAKE) --no-print-directory SAN=1 all units
	@N=$(or $(N),5) LOAD=$(or $(LOAD),1) sh scripts/test_repeat.sh

# One pass without the sanitizer run, for quick local work.
check: all units
	@python3 tests/run.py --build build

# Only what the build and the demo need (no browser, no test tools).
.PHONY: deps-demo
deps-demo:
	@sh scripts/deps.sh demo

demo: deps-demo all
	@sh scripts/demo.sh

bench: deps all
	@sh tests/bench/run.sh

# The Mattermost plugin archive: plugin/dist/com.openclaw.livestatus.tar.gz
package:
	@$(MAKE) --no-print-directory -C plugin package

lint:
	@clang-format --dry-run --Werror $(LIB_SRC) $(MM_SRC) $(wildcard fcgi/*.c watcher/*.c cli/*.c) \
		$(wildcard common/*.h sql/*.h mm/*.h fcgi/*.h watcher/*.h cli/*.h)
	@cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--suppress=missingIncludeSystem -I. common sql mm fcgi watcher

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
include mk/install.mk
