# perfweave — build, test and report.  `make report` and `make test` are the two entry points;
# both install missing Debian packages first (scripts/setup.sh), then build what changed.

CC       ?= gcc
BUILD    ?= build
PKGS     := libcmark gsl jansson zlib openblas
OPT      ?= -O2
SAN      ?=
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra -Wmissing-prototypes -Wstrict-prototypes -Werror
CPPFLAGS += -std=c11 -D_GNU_SOURCE -Iinclude -Itests -MMD -MP
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(filter-out -lgslcblas,$(shell pkg-config --libs $(PKGS) 2>/dev/null)) -lm -lpthread
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
GIT_DIRTY  := $(shell test -n "$$(git status --porcelain --untracked-files=no 2>/dev/null)" && echo -dirty)
DEFS     := -DPW_VERSION='"0.1.0"' -DPW_CFLAGS='"$(CC) $(OPT) $(SAN)"'

ALL_FLAGS = $(CPPFLAGS) $(DEFS) $(PKG_CFLAGS) $(CFLAGS) $(WARN) $(SAN)

LIB_SRC  := $(sort $(wildcard src/common/*.c src/weave/*.c src/measure/*.c src/kernels/*.c src/experiments/*.c src/store/*.c)) \
            $(filter-out src/cli/main.c,$(sort $(wildcard src/cli/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/src/cli/main.o
BIN      := $(BUILD)/perfweave
LIBA     := $(BUILD)/libperfweave.a

TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_SUPPORT := $(BUILD)/tests/support.o

.PHONY: FORCE all setup report quick test unit golden e2e regen check-asan bench clean
all: $(BIN)

setup:
	@scripts/setup.sh

$(BUILD)/%.o: %.c | setup
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_FLAGS) -c $< -o $@

# The commit is compiled into one object only, rebuilt when HEAD (or dirtiness) changes.
$(BUILD)/commit.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(GIT_COMMIT)$(GIT_DIRTY)' >$@.new; cmp -s $@.new $@ && rm -f $@.new || mv $@.new $@
$(BUILD)/src/common/version.o: $(BUILD)/commit.stamp
$(BUILD)/src/common/version.o: ALL_FLAGS += -DPW_COMMIT='"$(GIT_COMMIT)$(GIT_DIRTY)"'
FORCE:

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(LIBA)
	@echo "  LINK    $@"
	@$(CC) $(CFLAGS) $(SAN) -o $@ $(MAIN_OBJ) $(LIBA) $(PKG_LIBS)

$(TEST_SUPPORT): tests/support.c | setup
	@mkdir -p $(dir $@)
	$(CC) $(ALL_FLAGS) -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c $(LIBA) $(TEST_SUPPORT)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	@$(CC) $(ALL_FLAGS) -o $@ $< $(TEST_SUPPORT) $(LIBA) $(PKG_LIBS) $(shell pkg-config --libs cmocka)

report: $(BIN)
	$(BIN) report $(REPORT_FLAGS)

quick: $(BIN)
	$(BIN) report --quick $(REPORT_FLAGS)

# Every test: unit (cmocka), golden renders, command-line errors and the browser/PDF end to end.
test: unit golden e2e

unit: $(TEST_BIN)
	@tests/run-unit.sh $(TEST_BIN)

golden: $(BIN)
	@tests/golden/run.sh $(BIN)

e2e: $(BIN)
	@tests/e2e/run.sh $(BIN)

# Rewrite the golden files from the current renderer, on purpose; review the diff before committing.
regen: $(BIN)
	@tests/golden/run.sh $(BIN) --regen

check-asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SAN='-fsanitize=address,undefined -fno-omit-frame-pointer -Wno-format-truncation' unit golden

bench: $(BIN) $(LIBA)
	@mkdir -p $(BUILD)/bench
	$(CC) $(ALL_FLAGS) -o $(BUILD)/bench/detect bench/detect.c $(LIBA) $(PKG_LIBS)
	@bench/run.sh $(BIN) $(BUILD)/bench/detect

clean:
	rm -rf $(BUILD) build-asan

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
