# make/images.mk: container images and containers.
#
# The engine is $(CONTAINER_ENGINE): docker, or podman (see the Makefile).
# Settings you can change on the command line, for example:
#   make build-echo PLATFORM=linux/arm64     build for another kind of computer
#   make build-echo PREBUILT=1               package target/static/ (no Rust builder image)
#   make run-echo ECHO_HOST_PORT=9081        publish another port on your laptop

IMAGE_DOCKERFILE   := images/Dockerfile
TOOLS_DOCKERFILE   := images/tools/Dockerfile
CONTAINER_NETWORK  ?= kube-course-net
ECHO_CONTAINER     ?= local-echo-server
RELAY_CONTAINER    ?= local-relay-server
TOOLS_CONTAINER    ?= local-k8s-tools
ECHO_HOST_PORT     ?= 8081
RELAY_HOST_PORT    ?= 8082
# The address on your laptop where containers publish their port.
PUBLISH_ADDRESS    ?= 127.0.0.1
PLATFORM           ?=
PREBUILT           ?=
REVISION           ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

# podman keeps HEALTHCHECK only in the docker image format.
FORMAT_FLAG    := $(if $(filter podman,$(ENGINE_FLAVOUR)),--format docker)
PLATFORM_FLAG  := $(if $(PLATFORM),--platform $(PLATFORM))
IS_PREBUILT    := $(filter 1 yes true,$(PREBUILT))
# Always name the stage: podman 4 skips the builder stage when BUILDER keeps its default.
BUILDER_FLAG   := --build-arg BUILDER=$(if $(IS_PREBUILT),prebuilt,builder)
PREBUILT_DEPS  := $(if $(IS_PREBUILT),build-static)
APP_BUILD_ARGS := $(FORMAT_FLAG) $(PLATFORM_FLAG) $(BUILDER_FLAG) \
	--build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
	-f $(IMAGE_DOCKERFILE)

# Stop with a clear message when the engine is missing, not running, or refuses you.
define check_engine
	@bash scripts/engine.sh check $(CONTAINER_ENGINE) $@
endef

# PREBUILT=1 packs the programs compiled for this computer, so it cannot build for another one.
HOST_PLATFORM := linux/$(shell uname -m | sed -e 's/x86_64/amd64/' -e 's/aarch64/arm64/')
define check_prebuilt_platform
	@if [ -n "$(IS_PREBUILT)" ] && [ -n "$(PLATFORM)" ] && [ "$(PLATFORM)" != "$(HOST_PLATFORM)" ]; then \
		echo "✖ PREBUILT=1 packs programs built for $(HOST_PLATFORM), not for $(PLATFORM)."; \
		echo "  Leave out PREBUILT=1 to compile for $(PLATFORM) inside the image build."; \
		exit 1; \
	fi
endef

# Stop with a clear message when an image is missing: $(1) image, $(2) make target.
define check_image
	@if ! $(CONTAINER_ENGINE) image inspect $(1) >/dev/null 2>&1; then \
		echo "✖ The image $(1) is missing."; \
		echo "  Build it first: make $(2)"; \
		exit 1; \
	fi
endef

# Stop with a clear message when a container already runs or a port is taken.
# $(1) container name, $(2) laptop port, $(3) make target that stops it,
# $(4) the setting that picks the port.
define check_free
	@if $(CONTAINER_ENGINE) container inspect $(1) >/dev/null 2>&1; then \
		echo "✖ A container called $(1) already exists."; \
		echo "  Stop it first: make $(3)"; \
		exit 1; \
	fi; \
	if (exec 3<>/dev/tcp/$(PUBLISH_ADDRESS)/$(2)) 2>/dev/null; then \
		echo "✖ Port $(2) on your laptop is taken by another program."; \
		echo "  Stop that program, or pick another port: make $@ $(4)=$$(( $(2) + 1000 ))"; \
		exit 1; \
	fi
endef

# Create the container network once, so containers find each other by name.
define ensure_network
	@$(CONTAINER_ENGINE) network inspect $(CONTAINER_NETWORK) >/dev/null 2>&1 \
		|| $(CONTAINER_ENGINE) network create $(CONTAINER_NETWORK) >/dev/null
endef

# Everything to check before a container starts; then create the network.
# $(1) the app (echo or relay), $(2) its settings prefix (ECHO or RELAY).
define prepare_run
	$(check_engine)
	$(call check_image,$($(2)_IMAGE),build-$(1))
	$(call check_free,$($(2)_CONTAINER),$($(2)_HOST_PORT),stop-$(1),$(2)_HOST_PORT)
	$(ensure_network)
endef

# Stop a container; say so when it was not running. $(1) container, $(2) app name.
define stop_container
	@if $(CONTAINER_ENGINE) container inspect $(1) >/dev/null 2>&1; then \
		$(CONTAINER_ENGINE) stop $(1) >/dev/null \
		&& $(CONTAINER_ENGINE) rm -f $(1) >/dev/null 2>&1; \
		echo "✔ Stopped $(2) (container $(1))."; \
	else \
		echo "✔ $(2) is not running. Nothing to stop."; \
	fi
	@$(CONTAINER_ENGINE) network rm $(CONTAINER_NETWORK) >/dev/null 2>&1 || true
endef

.PHONY: build run build-images build-echo build-relay run-echo stop-echo run-relay stop-relay

build: ## Build the tools image: kubectl, kind, docker CLI with buildx, mdbook, make, curl, jq, dig
	$(check_engine)
	@echo "Building the tools image $(TOOLS_IMAGE) ..."
	$(CONTAINER_ENGINE) build $(PLATFORM_FLAG) --build-arg VERSION=$(VERSION) \
		-t $(TOOLS_IMAGE) -f $(TOOLS_DOCKERFILE) images/tools
	@echo "✔ Built $(TOOLS_IMAGE). Open it with: make run"

# The socket of the engine and your user, found by scripts/engine.sh when make run starts.
TOOLS_RUN_OPTIONS = $(shell bash scripts/engine.sh tools-options $(CONTAINER_ENGINE))

run: ## Open a shell in the tools image, with this repository in /workspace
	$(check_engine)
	$(call check_image,$(TOOLS_IMAGE),build)
	@bash scripts/engine.sh tools-notes $(CONTAINER_ENGINE)
	@mkdir -p .cache/home
	@echo "Starting a shell in $(TOOLS_IMAGE). Type exit to leave."
	$(CONTAINER_ENGINE) run -it --rm --name $(TOOLS_CONTAINER) --network host \
		$(TOOLS_RUN_OPTIONS) \
		-e HOME=/home/user -v "$(CURDIR)/.cache/home:/home/user" \
		-v "$(CURDIR):/workspace" -w /workspace \
		$(TOOLS_IMAGE)

build-images: build-echo build-relay ## Build the echo image and the relay image

# ANCHOR: build-echo
build-echo: $(PREBUILT_DEPS) ## Build the echo image (local-echo-server:0.1.0)
	$(check_engine)
	$(check_prebuilt_platform)
	@echo "Building the echo image $(ECHO_IMAGE) ..."
	$(CONTAINER_ENGINE) build $(APP_BUILD_ARGS) --build-arg APP=echo -t $(ECHO_IMAGE) .
	@echo "✔ Built $(ECHO_IMAGE). Start it with: make run-echo"
# ANCHOR_END: build-echo

build-relay: $(PREBUILT_DEPS) ## Build the relay image (local-relay-server:0.1.0)
	$(check_engine)
	$(check_prebuilt_platform)
	@echo "Building the relay image $(RELAY_IMAGE) ..."
	$(CONTAINER_ENGINE) build $(APP_BUILD_ARGS) --build-arg APP=relay -t $(RELAY_IMAGE) .
	@echo "✔ Built $(RELAY_IMAGE). Start it with: make run-relay"

# ANCHOR: run-echo
run-echo: ## Start echo in a container; it answers on http://localhost:8081
	$(call prepare_run,echo,ECHO)
	$(CONTAINER_ENGINE) run -d --rm --read-only \
		--name $(ECHO_CONTAINER) --network $(CONTAINER_NETWORK) \
		-p $(PUBLISH_ADDRESS):$(ECHO_HOST_PORT):8080 \
		$(ECHO_IMAGE)
	@echo "✔ echo runs in the container $(ECHO_CONTAINER)."
	@echo "  Try: curl 'http://localhost:$(ECHO_HOST_PORT)/echo?message=hello'"
	@echo "  Stop it with: make stop-echo"
# ANCHOR_END: run-echo

# ANCHOR: stop-echo
stop-echo: ## Stop the echo container
	$(check_engine)
	$(call stop_container,$(ECHO_CONTAINER),echo)
# ANCHOR_END: stop-echo

run-relay: ## Start relay in a container; it answers on http://localhost:8082
	$(call prepare_run,relay,RELAY)
	@$(CONTAINER_ENGINE) container inspect $(ECHO_CONTAINER) >/dev/null 2>&1 \
		|| echo "  Note: echo is not running. Start it with make run-echo, or relay has nobody to call."
	$(CONTAINER_ENGINE) run -d --rm --read-only \
		--name $(RELAY_CONTAINER) --network $(CONTAINER_NETWORK) \
		-p $(PUBLISH_ADDRESS):$(RELAY_HOST_PORT):8080 \
		-e DEFAULT_ECHO_SERVER=$(ECHO_CONTAINER):8080 \
		$(RELAY_IMAGE)
	@echo "✔ relay runs in the container $(RELAY_CONTAINER). It calls $(ECHO_CONTAINER):8080."
	@echo "  Try: curl 'http://localhost:$(RELAY_HOST_PORT)/relay?message=hello'"
	@echo "  Stop it with: make stop-relay"

stop-relay: ## Stop the relay container
	$(check_engine)
	$(call stop_container,$(RELAY_CONTAINER),relay)
