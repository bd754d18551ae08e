# The front door: every target installs what is missing, configures and
# builds with CMake, then runs. The build itself lives in CMakeLists.txt.
#
#   make demo   the simulated market through the whole fleet, then the report
#   make test   every test (unit, embedded-stack, deploy checks)
#   make build  just build (Release-with-debug-info into ./build)
#   make format clang-format every C file in place; make format-check checks
BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

.PHONY: all deps build test demo format format-check clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build format-check
	cd $(BUILD) && ctest --output-on-failure -j 1 $(CTEST_FLAGS)

demo: build
	$(BUILD)/cli/lastmile demo $(DEMO_FLAGS)

format:
	clang-format -i $(C_FILES)

format-check:
	@clang-format --dry-run -Werror $(C_FILES) && echo "format-check: ok"

clean:
	rm -rf $(BUILD)
