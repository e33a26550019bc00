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
	@echo "make image    build the container image (deploy/docker/Dockerfile; needs a Docker engine)"
	@echo "make deploy   deploy to Kubernetes (K8S_OVERLAY=minikube|production|production-hpa; deploy/README.md);"
	@echo "              gateway-/auth-/converter-/notif-/rabbitmq-/postgres-deploy one part, destroy removes it all"
	@echo "make k8s-render    print the rendered manifests of K8S_OVERLAY"
	@echo "make k8s-validate  render every overlay and check it offline (needs Node and npm: tests/k8s)"
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

# ---- The container image ----------------------------------------------------
IMAGE   ?= video2mp3
VERSION ?= $(shell sed -n 's/^project.video2mp3 VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)

# Needs a Docker engine, which these machines lack; `ctest -L image` checks
# the Dockerfile offline.
.PHONY: image
image:
	docker build -f deploy/docker/Dockerfile -t $(IMAGE):$(VERSION) --build-arg VERSION=$(VERSION) \
	  --build-arg REVISION=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown) .

# ---- Kubernetes (deploy/k8s; deploy/README.md) --------------------------------
# K8S_OVERLAY: minikube (default), production (KEDA) or production-hpa. The
# Secrets come from files deploy/k8s/secrets.sh writes into the overlay's
# git-ignored secrets/ folder (never overwritten; --deploy refuses placeholders).
K8S_OVERLAY ?= minikube
KUBECTL     ?= kubectl
K8S_NS      := video2mp3
K8S_DIR      = deploy/k8s/overlays/$(K8S_OVERLAY)
comma       := ,
# $(call k8s_apply,COMPONENTS): the objects without a component label (namespace,
# ConfigMaps, Secrets, the default-deny policy), then those of the components.
k8s_apply = bash deploy/k8s/secrets.sh --deploy $(K8S_OVERLAY) \
	&& $(KUBECTL) kustomize $(K8S_DIR) | $(KUBECTL) apply -l '!app.kubernetes.io/component' -f - \
	&& $(KUBECTL) kustomize $(K8S_DIR) | $(KUBECTL) apply -l 'app.kubernetes.io/component in ($(1))' -f -

.PHONY: k8s-secrets k8s-render k8s-validate deploy destroy gateway-deploy auth-deploy \
	converter-deploy notif-deploy rabbitmq-deploy postgres-deploy

k8s-secrets:
	@bash deploy/k8s/secrets.sh $(K8S_OVERLAY)

k8s-render:
	@bash deploy/k8s/secrets.sh $(K8S_OVERLAY)
	@$(KUBECTL) kustomize $(K8S_DIR)

# Offline: every overlay rendered, schema-validated and checked against the
# binary (build runs install-deps, which installs tests/k8s's npm packages).
k8s-validate: build
	bash tests/k8s/run.sh $(BUILD)/video2mp3 all

# Everything; the migration Job runs anew (a Job's template cannot change in place).
deploy:
	@bash deploy/k8s/secrets.sh --deploy $(K8S_OVERLAY)
	$(KUBECTL) -n $(K8S_NS) delete job migrate --ignore-not-found
	$(KUBECTL) kustomize $(K8S_DIR) | $(KUBECTL) apply -f -
	$(KUBECTL) -n $(K8S_NS) wait --for=condition=complete job/migrate --timeout=600s
	for d in auth gateway converter notifier; do $(KUBECTL) -n $(K8S_NS) rollout status deploy/$$d --timeout=300s || exit 1; done

# The namespace and everything in it, the database volumes included.
destroy:
	$(KUBECTL) delete namespace $(K8S_NS) --ignore-not-found

gateway-deploy:
	$(call k8s_apply,gateway)
auth-deploy:
	$(call k8s_apply,auth)
converter-deploy:
	$(call k8s_apply,converter)
notif-deploy:
	$(call k8s_apply,notifier$(comma)maildev)
rabbitmq-deploy:
	$(call k8s_apply,rabbitmq)
postgres-deploy:
	$(call k8s_apply,postgres)
