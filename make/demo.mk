# make/demo.mk: make demo, make demo-down and make e2e.
# The work happens in scripts/demo.sh and scripts/e2e.sh; these targets only start them.

DEMO_ENV = CLUSTER_NAME=$(CLUSTER_NAME) KUBE_CONTEXT=$(KUBE_CONTEXT) NAMESPACE=$(NAMESPACE) \
	ECHO_CONTAINER=$(ECHO_CONTAINER) RELAY_CONTAINER=$(RELAY_CONTAINER) CONTAINER_NETWORK=$(CONTAINER_NETWORK)

.PHONY: demo demo-down e2e

# ANCHOR: demo
demo: ## Run the whole app: on kind when you have it, else as containers (Docker is enough)
	@$(DEMO_ENV) bash scripts/demo.sh up
# ANCHOR_END: demo

demo-down: ## Stop the demo: stop its containers, and delete the cluster
	@$(DEMO_ENV) bash scripts/demo.sh down

e2e: ## Test the app on a fresh two-node kind cluster (needs kind; not on the course build machines)
	@$(DEMO_ENV) bash scripts/e2e.sh
