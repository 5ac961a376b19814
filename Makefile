# perfweave — build, test and report.  `make report` and `make test` are the two entry points;
# both install missing Debian packages first (scripts/setup.sh), then build what changed.

CC       ?= gcc
BUILD    ?= build
PKGS     := libcmark gsl jansson zlib openblas nettle libmicrohttpd
OPT      ?= -O2
SAN      ?=
CFLAGS   ?= $(OPT) -g
# -Wno-missing-field-initializers: pw_experiment gained a trailing optional member (sources) that
# existing positional initializers leave out on purpose (zero = none).
WARN     := -Wall -Wextra -Wmissing-prototypes -Wstrict-prototypes -Werror -Wno-missing-field-initializers
CPPFLAGS += -std=c11 -D_GNU_SOURCE -Iinclude -Itests -MMD -MP
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# OpenBLAS first among the libraries (libgsl still pulls libgslcblas.so in as its own
# dependency, which binds after every direct one; main() checks that cblas_sgemm and friends
# resolve into OpenBLAS).  BLIS and oneDNN are not linked: src/kernels/{blis,onednn}.c open them
# with dlopen in the processes that may use them (docs/kernels.md).
PKG_LIBS   = $(shell pkg-config --libs openblas 2>/dev/null) \
             $(filter-out -lgslcblas,$(shell pkg-config --libs $(PKGS) 2>/dev/null)) -lm -lpthread -ldl
# BLIS's serial build (Debian libblis4-serial), opened by path: the default libblis.so.4 is an
# alternative that may point at a threaded build.
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
BLIS_PATH ?= /usr/lib/$(if $(MULTIARCH),$(MULTIARCH)/)blis-serial/libblis.so.4
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
GIT_DIRTY  := $(shell test -n "$$(git status --porcelain --untracked-files=no 2>/dev/null)" && echo -dirty)
DEFS     := -DPW_VERSION='"0.1.0"' -DPW_CFLAGS='"$(CC) $(OPT) $(SAN)"'

ALL_FLAGS = $(CPPFLAGS) $(DEFS) $(PKG_CFLAGS) $(CFLAGS) $(WARN) $(SAN)

LIB_SRC  := $(sort $(wildcard src/common/*.c src/weave/*.c src/measure/*.c src/kernels/*.c src/experiments/*.c src/store/*.c src/exec/*.c src/preview/*.c)) \
            $(filter-out src/cli/main.c,$(sort $(wildcard src/cli/*.c)))
# build/gen/impl_hashes.c: the SHA-256 of every file under src/ and include/ plus the compile
# flags (scripts/impl-hashes.sh), compiled into the library for pw_impl_hash (cache keys).
GEN_IMPL := $(BUILD)/gen/impl_hashes.c
IMPL_FLAGS = $(CC) $(OPT) $(SAN) $(CFLAGS)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/impl_hashes.o
MAIN_OBJ := $(BUILD)/src/cli/main.o
BIN      := $(BUILD)/perfweave
LIBA     := $(BUILD)/libperfweave.a

TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_SUPPORT := $(BUILD)/tests/support.o

.PHONY: tune-qgemm all setup report quick preview test unit golden e2e e2e-preview test-slurm regen check-asan check-nosimd check-aarch64 fuzz fuzz-bins bench simulate tune-ukernels clean FORCE
all: $(BIN)

setup:
	@scripts/setup.sh

$(BUILD)/%.o: %.c | setup
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_FLAGS) -c $< -o $@

# Kernels are timed against each other, so their machine code must not move with unrelated
# changes: a scalar loop's speed on this class of CPU depends on where it falls relative to
# 64-byte boundaries (measured: ikj 6.6 → 4.4 GFLOP/s after an edit elsewhere in the binary).
# Aligning their functions and loops to 64 bytes makes that placement the same in every build.
KERNEL_ALIGN := -falign-functions=64 -falign-loops=64
$(BUILD)/src/kernels/%.o: ALL_FLAGS += $(KERNEL_ALIGN)
$(BUILD)/src/kernels/blis.o: ALL_FLAGS += -DPW_BLIS_PATH='"$(BLIS_PATH)"'

# The commit is compiled into one object only, rebuilt when HEAD (or dirtiness) changes.
$(BUILD)/commit.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(GIT_COMMIT)$(GIT_DIRTY)' >$@.new; cmp -s $@.new $@ && rm -f $@.new || mv $@.new $@
$(BUILD)/src/common/version.o: $(BUILD)/commit.stamp
$(BUILD)/src/common/version.o: ALL_FLAGS += -DPW_COMMIT='"$(GIT_COMMIT)$(GIT_DIRTY)"'
FORCE:

# Regenerated on every build; the script replaces the file only when a hash or the flags changed.
$(GEN_IMPL): scripts/impl-hashes.sh FORCE
	@scripts/impl-hashes.sh $@ '$(IMPL_FLAGS)'

$(BUILD)/gen/impl_hashes.o: $(GEN_IMPL) | setup
	@echo "  CC      $<"
	@$(CC) $(ALL_FLAGS) -c $< -o $@

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

# A live-reloading local server while chapters are written (docs/preview.md); for example
# `make preview PREVIEW_FLAGS='--quick --port 8080'`.  Ctrl-C stops it.
preview: $(BIN)
	$(BIN) preview $(PREVIEW_FLAGS)

# Every test: unit (cmocka), golden renders, command-line errors and the browser/PDF end to end,
# `perfweave preview` end to end (curl, and headless Chromium through playwright-core), and the
# Slurm end to end on a real one-node cluster (skipped, saying why, when not root); and the paths
# this machine cannot show: the unit tests of a build without any x86 SIMD code (PW_NO_SIMD, what
# an arm64 or pre-AVX2 machine runs) and a compile of every source for arm64.
test: unit golden e2e e2e-preview test-slurm check-nosimd check-aarch64

unit: $(TEST_BIN)
	@tests/run-unit.sh $(TEST_BIN)

golden: $(BIN)
	@tests/golden/run.sh $(BIN)

e2e: $(BIN)
	@tests/e2e/run.sh $(BIN)

# Installs playwright-core with `npm ci` from tests/e2e/preview/package-lock.json when node and
# npm exist (the browser part is skipped, and says so, when they do not).
e2e-preview: $(BIN)
	@tests/e2e/preview/run.sh $(BIN)

# Starts a one-node Slurm cluster in a temporary folder (tests/slurm/cluster.sh; needs root),
# runs directives through it and stops every daemon it started.
test-slurm: $(BIN)
	@tests/slurm/run.sh $(BIN)

# Rewrite the golden files from the current renderer, on purpose; review the diff before committing.
regen: $(BIN)
	@tests/golden/run.sh $(BIN) --regen

# The unit tests (and the golden renders, once tests/golden/run.sh exists) under ASan + UBSan;
# any sanitizer report fails the run (tests/lsan.supp lists the known leaks it tolerates).
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
check-asan:
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	$(MAKE) BUILD=build-asan OPT=-O1 SAN='$(ASAN_FLAGS) -Wno-format-truncation' unit golden

# Every x86 SIMD path compiled out (-DPW_NO_SIMD): what a CPU without these ISAs (arm64, older
# x86) builds and runs, the portable kernels alone.  The unit tests must pass there too; they
# check that dispatch then names the build as the reason a SIMD kernel cannot run.
check-nosimd:
	$(MAKE) BUILD=build-nosimd CPPFLAGS='$(CPPFLAGS) -DPW_NO_SIMD' unit

# The same sources compiled (not linked) for arm64 with Debian's cross compiler: every file must
# build without x86 intrinsics.  Only the compile is checked (the arm64 libraries are not
# installed); the host's library headers are found after the cross compiler's own.
A64_CC ?= aarch64-linux-gnu-gcc
check-aarch64:
	@command -v $(A64_CC) >/dev/null || { echo "check-aarch64: $(A64_CC) is not installed (Debian package gcc-aarch64-linux-gnu)" >&2; exit 1; }
	@mkdir -p build-aarch64
	@for f in $(LIB_SRC) src/cli/main.c; do \
	    o=build-aarch64/$$(echo $$f | tr / _).o; \
	    $(A64_CC) $(CPPFLAGS) $(DEFS) -idirafter /usr/include $(PKG_CFLAGS) $(CFLAGS) $(WARN) -c $$f -o $$o || exit 1; \
	done; echo "check-aarch64: every source compiles for arm64"

# libFuzzer harnesses (tests/fuzz/fuzz_*.c) for the parsers, built with clang, ASan and UBSan
# over the whole library; each runs FUZZ_SECONDS from its seed corpus tests/fuzz/corpus/NAME/
# (new inputs go to build-fuzz/corpus/NAME, crashes to build-fuzz/crash-*).
FUZZ_SECONDS ?= 180
FUZZ_CC      ?= clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
fuzz:
	$(MAKE) BUILD=build-fuzz CC=$(FUZZ_CC) OPT='-O1' WARN='-Wall -Wextra' \
	    SAN='$(FUZZ_SAN) -fsanitize=fuzzer-no-link' fuzz-bins
	@for f in $(FUZZ_BIN); do \
	    name=$${f#build-fuzz/fuzz_}; mkdir -p build-fuzz/corpus/$$name; \
	    echo "fuzz: $$name for $(FUZZ_SECONDS) s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=build-fuzz/crash-$$name- \
	        build-fuzz/corpus/$$name tests/fuzz/corpus/$$name || exit 1; \
	done

fuzz-bins: $(FUZZ_BIN)

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_FLAGS) -fsanitize=fuzzer -o $@ $< $(LIBA) $(PKG_LIBS)

# `make bench` times the measurement loop on this machine (run it on a quiet one): the A/A rate
# with its interval over 200 trials and the power to detect 1% within 2 s per comparison.
bench: $(BIN) $(LIBA)
	@mkdir -p $(BUILD)/bench
	$(CC) $(ALL_FLAGS) -o $(BUILD)/bench/detect bench/detect.c $(LIBA) $(PKG_LIBS)
	@bench/run.sh $(BIN) $(BUILD)/bench/detect

# Ranks the packed sgemm's microkernels and blocksizes against OpenBLAS (bench/ukernels.c), pinned
# to one CPU.  Run it on a quiet machine; on a CPU Debian's OpenBLAS does not know, compare with
# the best core it can run, e.g. `OPENBLAS_CORETYPE=SkylakeX make tune-ukernels`.  Options go in
# TUNE_ARGS (e.g. TUNE_ARGS='--kernels avx512_12x32 --kc 192,256,384 --sizes 256,1024').
TUNE_ARGS ?=
tune-ukernels: $(LIBA)
	@mkdir -p $(BUILD)/bench
	$(CC) $(ALL_FLAGS) -o $(BUILD)/bench/ukernels bench/ukernels.c $(LIBA) $(PKG_LIBS)
	taskset -c 0 $(BUILD)/bench/ukernels $(TUNE_ARGS)

# Ranks the integer GEMM kernels against oneDNN's int8 matmul on the MLP's layer shapes
# (bench/qgemm.c), pinned to one CPU, on a quiet machine.  Options in QGEMM_ARGS (e.g.
# QGEMM_ARGS='--kernels amx,avx512vnni --batches 32,256').
QGEMM_ARGS ?=
tune-qgemm: $(LIBA)
	@mkdir -p $(BUILD)/bench
	$(CC) $(ALL_FLAGS) -o $(BUILD)/bench/qgemm bench/qgemm.c $(LIBA) $(PKG_LIBS)
	taskset -c 0 $(BUILD)/bench/qgemm $(QGEMM_ARGS)

# `make simulate` replays the loop's comparison on synthetic noisy machines (times nothing, so it
# gives the same table anywhere): docs/bench-simulate.txt, discussed in docs/methodology.md.
simulate: $(LIBA)
	@mkdir -p $(BUILD)/bench
	$(CC) $(ALL_FLAGS) -o $(BUILD)/bench/simulate bench/simulate.c $(LIBA) $(PKG_LIBS)
	$(BUILD)/bench/simulate $(SIMULATE_FLAGS) | tee docs/bench-simulate.txt

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-nosimd build-aarch64

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
