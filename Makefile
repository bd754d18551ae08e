# The front door: every target installs what is missing, configures and
# builds with CMake, then runs. The build itself lives in CMakeLists.txt.
#
#   make demo   the simulated market through the whole fleet, then the report
#   make form-demo  the example form -> gateway -> fleet -> webhook -> receiver
#   make test   every test (unit, embedded-stack, deploy checks)
#   make test-cluster  the stack tests on a Redis Cluster (ctest -L cluster)
#   make test-asan  the unit tests and the pipeline, runtime and crash-window
#               tests on the embedded stack, under ASan + UBSan
#   make fuzz   every libFuzzer target, a short run each (clang)
#   make build  just build (Release-with-debug-info into ./build)
#   make format clang-format every C file in place; make format-check checks
BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# tests at a time: two (most wait on timers and leases; the chaos and
# fault runs go alone, tests/CMakeLists.txt); TEST_JOBS=1 for one by one
TEST_JOBS ?= 2
C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

.PHONY: all deps build test test-cluster test-cluster-full test-asan fuzz demo form-demo format format-check clean

all: build

deps:
	@bash scripts/install-deps.sh

# after deps: with make -j the two would otherwise race on a bare machine
# (cmake configuring while the -dev packages are still being installed)
$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build format-check
	cd $(BUILD) && ctest --output-on-failure --no-tests=error -j $(TEST_JOBS) $(CTEST_FLAGS)

# The stack tests' Redis Cluster variants and the failover test (also in
# `make test`): tests/CMakeLists.txt labels them `cluster`.
test-cluster: build
	cd $(BUILD) && ctest --output-on-failure --no-tests=error -j $(TEST_JOBS) -L cluster $(CTEST_FLAGS)

# The long version: every pipeline and crash-window test on a cluster
# (`make test` runs the subset tests/CMakeLists.txt names; ~10 min more).
test-cluster-full: build
	cd $(BUILD)/tests && LASTMILE_TEST_REDIS=cluster ./test_pipeline --jobs 1 \
	  && LASTMILE_TEST_REDIS=cluster ./test_crash_windows --jobs 1 \
	  && LASTMILE_TEST_REDIS=cluster ./test_chaos --jobs 1

# Sanitizers: a separate Debug build with -DLASTMILE_SANITIZE=ON; every
# timeout stretched (LASTMILE_TEST_TIMEOUT_MULT) for the slower binaries.
SAN_ENV = LASTMILE_TEST_TIMEOUT_MULT=4 \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
test-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLASTMILE_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && $(SAN_ENV) ctest --output-on-failure --no-tests=error -j 1 -L unit
	cd build-asan && $(SAN_ENV) ctest --output-on-failure --no-tests=error -j 1 \
		-R 'stack[.]test_(pipeline|runtime|crash_windows|redis_auth|cli_publish)$$'

# Fuzzing: clang and libFuzzer (Debian's libclang-rt) in their own build.
fuzz: deps
	LM_EXTRA_PACKAGES="clang libclang-rt-14-dev" bash scripts/install-deps.sh
	CC=clang cmake -S . -B build-fuzz -DLASTMILE_FUZZ=ON -DLASTMILE_TESTS=OFF
	cmake --build build-fuzz -j $(JOBS)
	cd build-fuzz && ctest --output-on-failure --no-tests=error -j 1 -L fuzz

demo: build
	$(BUILD)/cli/lastmile demo $(DEMO_FLAGS)

form-demo: build
	LM_BINARY_DIR=$(BUILD) bash examples/lead-form-demo.sh

format:
	clang-format -i $(C_FILES)

format-check:
	@clang-format --dry-run -Werror $(C_FILES) && echo "format-check: ok"

clean:
	rm -rf $(BUILD)
