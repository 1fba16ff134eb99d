# kastor — the two commands a newcomer needs are `make demo` and `make test`.
# Both install what is missing (Debian packages; Apache Kafka's jars from Maven
# Central, cached), build into build/, and run.

SHELL := /bin/bash
BUILD_DIR ?= build
JOBS ?= 2
DEMO_ARGS ?=
CTEST_ARGS ?=

APT_PACKAGES := cmake ninja-build g++ pkg-config libcaf-dev librdkafka-dev \
	libboost1.81-dev libboost-json1.81-dev libspdlog-dev libgtest-dev libgmock-dev \
	libcli11-dev prometheus-cpp-dev prometheus kcat socat iproute2 procps openjdk-17-jre-headless maven \
	clang libclang-rt-14-dev
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 300
FUZZERS := decode_record order_request config dlq_replay

.PHONY: all deps kafka interop build test test-unit fuzz demo bench clean

all: build

# Installs the Debian packages that are missing (root, or sudo).
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Fetches the pinned Apache Kafka jars once (cached under ~/.cache/kastor).
kafka: deps
	bash deploy/local/kafka.sh fetch

# The foreign clients of the interop tests, pinned (KafkaJS from npm,
# kafka-python from PyPI), cached under ~/.cache/kastor/interop.
interop: deps
	bash tests/interop/install.sh

build: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Unit and integration tests, then system tests against a real single-broker
# Kafka that deploy/local/kafka.sh starts and always stops.
# Then each fuzzer for 20 s.
test: build kafka interop
	KASTOR_BIN=$(CURDIR)/$(BUILD_DIR)/bin/kastor bash deploy/local/kafka.sh run --brokers 1 -- \
	  ctest --test-dir $(BUILD_DIR) --output-on-failure --timeout 900 $(CTEST_ARGS)
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=20

# The libFuzzer harnesses (tests/fuzz), built with clang under AddressSanitizer
# and UBSan in $(FUZZ_DIR)/, each run for FUZZ_SECONDS from its seed corpus
# (what they find is kept in $(FUZZ_DIR)/corpus/). A crash or a decode ->
# encode -> decode mismatch fails, its input saved in $(FUZZ_DIR)/artifacts/.
fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DKASTOR_FUZZ=ON -DKASTOR_BUILD_TESTS=OFF >/dev/null
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZERS))
	@mkdir -p $(FUZZ_DIR)/artifacts
	@for f in $(FUZZERS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$f; \
	  echo "fuzz_$$f: $(FUZZ_SECONDS) s"; \
	  $(FUZZ_DIR)/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/$$f- \
	    $(FUZZ_DIR)/corpus/$$f tests/fuzz/corpus/$$f >$(FUZZ_DIR)/fuzz_$$f.log 2>&1 \
	  || { tail -40 $(FUZZ_DIR)/fuzz_$$f.log; echo "fuzz_$$f FAILED (log: $(FUZZ_DIR)/fuzz_$$f.log)"; exit 1; }; \
	  grep -E "^stat::number_of_executed_units|^Done" $(FUZZ_DIR)/fuzz_$$f.log | tr '\n' ' '; echo; \
	done

test-unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -L unit

# Everything in one process on librdkafka's mock cluster; Ctrl-C stops it.
demo: build
	$(BUILD_DIR)/bin/kastor demo $(DEMO_ARGS)

# Figures on a real single broker (started and stopped here).
bench: build kafka
	KASTOR_BIN=$(CURDIR)/$(BUILD_DIR)/bin/kastor bash deploy/local/kafka.sh run --brokers 1 -- \
	  bash -c '$(BUILD_DIR)/bin/kastor bench --brokers "$$KASTOR_BROKERS"'

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_DIR)
