# make/cluster.mk: the kind cluster (create-cluster, delete-cluster, ...).
# Every kubectl command names its context, so it never touches another cluster.

KIND    ?= kind
KUBECTL ?= kubectl
CLUSTER_ONE_NODE  ?= clusters/one-node.yaml
CLUSTER_TWO_NODES ?= clusters/two-nodes.yaml

KIND_HELP    := https://kind.sigs.k8s.io/docs/user/quick-start/\#installation
KUBECTL_HELP := https://kubernetes.io/docs/tasks/tools/


# $(call cluster-need,NAME,COMMAND,WHERE TO GET IT): stop with a clear message when a tool is missing.
cluster-need = command -v $(2) >/dev/null 2>&1 || { \
	echo "✖ $(1) is missing: make cannot find the command '$(2)'."; \
	echo "  Install it: $(3)"; \
	echo "  Or use the tools image $(TOOLS_IMAGE): run make build, then make run."; \
	exit 1; }

# Stop with a clear message when the cluster does not exist.
cluster-exists = $(KIND) get clusters 2>/dev/null | grep -qx '$(CLUSTER_NAME)'
cluster-need-cluster = $(cluster-exists) || { \
	echo "✖ There is no kind cluster called $(CLUSTER_NAME)."; \
	echo "  Create it first: make create-cluster"; \
	exit 1; }

# Stop with a clear message when kubectl does not know the context.
cluster-need-context = $(KUBECTL) config get-contexts $(KUBE_CONTEXT) >/dev/null 2>&1 || { \
	echo "✖ kubectl has no context called $(KUBE_CONTEXT)."; \
	echo "  Create the cluster first: make create-cluster"; \
	exit 1; }

# $(call cluster-create,CONFIG FILE,WHAT): create the cluster, or reuse it when it exists.
cluster-create = \
	$(call cluster-need,kind,$(KIND),$(KIND_HELP)); \
	$(call cluster-need,kubectl,$(KUBECTL),$(KUBECTL_HELP)); \
	bash scripts/engine.sh check $(CONTAINER_ENGINE) $@ || exit 1; \
	if $(cluster-exists); then \
		echo "✔ The cluster $(CLUSTER_NAME) is there already. make uses it as it is."; \
		echo "  It has these nodes: $$($(KIND) get nodes --name $(CLUSTER_NAME) | tr '\n' ' ')"; \
		echo "  For a new cluster, run first: make delete-cluster"; \
	else \
		echo "Creating the cluster $(CLUSTER_NAME) with $(2). This takes one or two minutes."; \
		echo "$$ $(KIND) create cluster --name $(CLUSTER_NAME) --config $(1) --wait 120s"; \
		$(KIND) create cluster --name $(CLUSTER_NAME) --config $(1) --wait 120s || { \
			echo "✖ kind could not create the cluster. Read the lines above for the reason."; \
			exit 1; }; \
		echo "✔ The cluster $(CLUSTER_NAME) is ready."; \
	fi; \
	echo "$$ $(KUBECTL) --context $(KUBE_CONTEXT) get nodes"; \
	$(KUBECTL) --context $(KUBE_CONTEXT) get nodes

.PHONY: create-cluster create-cluster-two-nodes delete-cluster cluster-list-all load-images deploy port-forward-relay

# ANCHOR: create-cluster
create-cluster: ## Create the kind cluster kube-course with one node (or reuse it)
	@$(call cluster-create,$(CLUSTER_ONE_NODE),one node)
# ANCHOR_END: create-cluster

create-cluster-two-nodes: ## Create the kind cluster kube-course with two nodes (or reuse it)
	@$(call cluster-create,$(CLUSTER_TWO_NODES),two nodes: a control plane and a worker)

delete-cluster: ## Delete the kind cluster kube-course and everything in it
	@$(call cluster-need,kind,$(KIND),$(KIND_HELP))
	@bash scripts/engine.sh check $(CONTAINER_ENGINE) $@
	@if $(cluster-exists); then \
		echo "$$ $(KIND) delete cluster --name $(CLUSTER_NAME)"; \
		$(KIND) delete cluster --name $(CLUSTER_NAME) && echo "✔ The cluster $(CLUSTER_NAME) is gone."; \
	else \
		echo "✔ There is no cluster called $(CLUSTER_NAME). Nothing to delete."; \
	fi

cluster-list-all: ## List everything in the cluster, in all namespaces
	@$(call cluster-need,kubectl,$(KUBECTL),$(KUBECTL_HELP))
	@$(cluster-need-context)
	$(KUBECTL) --context $(KUBE_CONTEXT) get all --all-namespaces

# podman calls an image localhost/NAME, but a kind node looks for docker.io/library/NAME.
# So with podman (also when podman-docker calls it "docker"), load-images first gives
# the image that second name, and loads that name.
cluster-node-image = $(if $(and $(filter podman,$(ENGINE_FLAVOUR)),$(if $(findstring /,$(1)),,x)),docker.io/library/$(1),$(1))

# The save command of the fallback below. Docker saves one platform only, the node's:
# with Docker's containerd image store, a plain save names every platform of the image,
# and the node's import then fails ("content digest ... not found"; kind issue 3795).
# podman keeps one platform per image anyway, and its save has no --platform.
cluster-save = $(if $(filter podman,$(ENGINE_FLAVOUR)),$(CONTAINER_ENGINE) save --format docker-archive,$(CONTAINER_ENGINE) image save --platform $(HOST_PLATFORM))

# $(call cluster-load-archive,IMAGE): what load-images does when `kind load docker-image` fails.
# It saves the image of the node's platform to a file, then loads the file into the nodes.
cluster-load-archive = { \
	echo "kind load docker-image did not work. Trying again: save the image to a file, then load the file."; \
	archive="$$(mktemp)"; \
	echo "$$ $(cluster-save) -o $$archive $(1)"; \
	echo "$$ $(KIND) load image-archive $$archive --name $(CLUSTER_NAME)"; \
	$(cluster-save) -o "$$archive" $(1) && $(KIND) load image-archive "$$archive" --name $(CLUSTER_NAME); \
	status=$$?; rm -f "$$archive"; \
	[ $$status -eq 0 ] || { echo "✖ Could not load $(1) into the cluster. Read the lines above for the reason."; exit 1; }; }

.PHONY: cluster-load-checks load-echo-image load-relay-image
cluster-load-checks:
	@$(call cluster-need,kind,$(KIND),$(KIND_HELP))
	@bash scripts/engine.sh check $(CONTAINER_ENGINE) $@
	@$(cluster-need-cluster)

# ANCHOR: load-images
load-images: load-echo-image load-relay-image ## Copy the echo and relay images from your laptop into the kind nodes

load-echo-image: IMAGE = $(ECHO_IMAGE)
load-relay-image: IMAGE = $(RELAY_IMAGE)
load-echo-image load-relay-image: NODE_IMAGE = $(call cluster-node-image,$(IMAGE))
load-echo-image load-relay-image: cluster-load-checks
	@$(CONTAINER_ENGINE) image inspect $(IMAGE) >/dev/null 2>&1 || { \
		echo "✖ The image $(IMAGE) is not on your laptop. Build it first: make build-images"; exit 1; }
	@$(if $(filter-out $(IMAGE),$(NODE_IMAGE)),$(CONTAINER_ENGINE) tag $(IMAGE) $(NODE_IMAGE))
	@echo "$$ $(KIND) load docker-image $(NODE_IMAGE) --name $(CLUSTER_NAME)"
	@$(KIND) load docker-image $(NODE_IMAGE) --name $(CLUSTER_NAME) || $(call cluster-load-archive,$(NODE_IMAGE))
	@echo "✔ $(IMAGE) is in the cluster."
# ANCHOR_END: load-images

# ANCHOR: deploy
deploy: ## Apply the whole app (lessons/kustomization.yaml) to the cluster
	@$(call cluster-need,kubectl,$(KUBECTL),$(KUBECTL_HELP))
	@$(cluster-need-context)
	$(KUBECTL) --context $(KUBE_CONTEXT) apply -k lessons
	@echo "✔ The app is applied. Watch it start: kubectl --context $(KUBE_CONTEXT) -n $(NAMESPACE) get pods -w"
# ANCHOR_END: deploy

port-forward-relay: ## Reach relay from your laptop on port 8082 (stop with Ctrl+C)
	@$(call cluster-need,kubectl,$(KUBECTL),$(KUBECTL_HELP))
	@$(cluster-need-context)
	@echo "Relay answers on http://localhost:8082/relay?message=hi until you press Ctrl+C."
	$(KUBECTL) --context $(KUBE_CONTEXT) -n $(NAMESPACE) port-forward svc/relay 8082:8080
