# kube-for-the-dyslexic: the learner's entry point.
# Run `make help` to see every target with one line each.
# The targets live in make/*.mk, one file per topic.

# Names shared by every part (see ARCHITECTURE.md).
VERSION       ?= 0.1.0
ECHO_IMAGE    ?= local-echo-server:$(VERSION)
RELAY_IMAGE   ?= local-relay-server:$(VERSION)
TOOLS_IMAGE   ?= local-k8s-tools:$(VERSION)
CLUSTER_NAME  ?= kube-course
KUBE_CONTEXT  ?= kind-$(CLUSTER_NAME)
NAMESPACE     ?= my-space

# The container engine: docker, or podman when docker is absent.
CONTAINER_ENGINE ?= $(shell command -v docker >/dev/null 2>&1 && echo docker || (command -v podman >/dev/null 2>&1 && echo podman || echo docker))

.DEFAULT_GOAL := help
SHELL := /bin/bash

include make/apps.mk
include make/images.mk
include make/cluster.mk
include make/demo.mk
include make/book.mk
include make/test.mk

.PHONY: help
help: ## Show every target with one line about what it does
	@echo "Usage: make <target>"
	@echo
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "} {printf "  %-26s %s\n", $$1, $$2}'
