# The human entry points. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps build build-asan run stack stack-down test test-unit bench format format-check lint clean help

all: build

help:
	@echo "make deps     install the Debian packages the build, tests and benchmarks need"
	@echo "make build    build build/video2mp3 (Release with assertions)"
	@echo "make run      install, build and start everything in one process on http://127.0.0.1:8080"
	@echo "make stack    install, build and start each role as its own process on PostgreSQL, RabbitMQ and"
	@echo "              an SMTP catcher (state in .stack/; scripts/stack help); make stack-down stops it"
	@echo "make test     install, build (plus an ASan+UBSan build) and run every test"
	@echo "make bench    side-by-side benchmark against the ffmpeg command line tool"
	@echo "make format   reformat the sources with clang-format"
	@echo "make lint     run clang-tidy over the sources"
	@echo "make clean    remove the build directories"

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DV2M_WERROR=ON $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DV2M_WERROR=ON -DV2M_SANITIZE=ON $(CMAKE_FLAGS)

build-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j$(JOBS)

# Every test on the Release build, then the unit and engine tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer, then the formatting check.
# Everything in one process on the embedded defaults (./data); Ctrl-C stops it.
run: build
	@bash scripts/run.sh

# The microservice deployment on one machine: returns once every process is
# ready and leaves them running; `make stack-down` stops them, keeping .stack/.
stack: build
	@V2M_STACK_BIN=$(BUILD)/video2mp3 bash scripts/stack up

stack-down:
	@bash scripts/stack down

test: build build-asan
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -j$(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure --timeout 900 -j$(JOBS) -L 'unit|engine|auth|queue|amqp|smtp'
	$(MAKE) --no-print-directory format-check lint

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

bench: build
	bash bench/run.sh
	bash bench/upload.sh
	bash bench/pipeline.sh

SOURCES = $(shell git ls-files '*.cpp' '*.hpp' 2>/dev/null)

format:
	clang-format -i $(SOURCES)

format-check:
	@clang-format --dry-run --Werror $(SOURCES) && echo "format-check: clean"

# clang-tidy (configuration in .clang-tidy; its warnings are errors). Its
# diagnostics go to stdout; "N warnings generated" noise to stderr.
lint: build
	@printf '%s\n' $(filter %.cpp,$(SOURCES)) | xargs -P$(JOBS) -n4 clang-tidy --quiet -p $(BUILD) 2>/dev/null \
	  && echo "lint: clean"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
