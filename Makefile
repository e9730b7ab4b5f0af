# flexgw: the two commands are `make demo` and `make check` (see README.md).
# Both install what is missing (packaging/install-deps.sh, apt-get, as root)
# and build first.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
DEMO_ARGS  ?=
# Seconds each fuzz target runs inside make check (make fuzz: FUZZ_SECONDS).
CHECK_FUZZ_SECONDS ?= 60

.PHONY: all deps build demo check test test-asan bench fuzz format format-check \
        config-docs clean

all: build

deps:
	@packaging/install-deps.sh

# -Werror everywhere make builds: the tree is kept warning-free.
build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFG_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	$(BUILD)/gateway/flexgw --demo $(DEMO_ARGS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

# The whole suite again, built by clang with AddressSanitizer +
# UndefinedBehaviorSanitizer, plus the libFuzzer targets for a bounded time.
test-asan: deps
	@CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFG_SANITIZE=ON \
	    -DFG_FUZZ=ON -DFG_WERROR=ON -DFG_FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)

check: test test-asan

bench: build
	tests/bench/run.sh $(BUILD)

# Longer fuzzing than make check does: FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 300
fuzz: deps
	@CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFG_SANITIZE=ON \
	    -DFG_FUZZ=ON -DFG_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -L fuzz

FORMAT_FILES = $(shell git ls-files '*.c' '*.h')
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

# Regenerate the files generated from the config descriptor table.
config-docs: build
	$(BUILD)/gateway/flexgw --config-schema > conf/flexgw.schema.json
	$(BUILD)/gateway/flexgw --config-reference > docs/config.md

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
