# kube-for-the-dyslexic: the learner's entry point.
# Run `make help` to see every target with one line each.
# The targets live in make/*.mk, one file per topic.

# Names shared by every part (see ARCHITECTURE.md).
# The version is the workspace version in Cargo.toml, so the two never differ.
ifndef VERSION
VERSION       := $(shell sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
endif
ECHO_IMAGE    ?= local-echo-server:$(VERSION)
RELAY_IMAGE   ?= local-relay-server:$(VERSION)
TOOLS_IMAGE   ?= local-k8s-tools:$(VERSION)
CLUSTER_NAME  ?= kube-course
KUBE_CONTEXT  ?= kind-$(CLUSTER_NAME)
NAMESPACE     ?= my-space

# The container engine: docker, or podman when docker is absent.
CONTAINER_ENGINE ?= $(shell command -v docker >/dev/null 2>&1 && echo docker || (command -v podman >/dev/null 2>&1 && echo podman || echo docker))
# What the engine really is: podman, also when podman-docker calls it "docker".
ENGINE_FLAVOUR := $(if $(findstring podman,$(shell $(CONTAINER_ENGINE) --version 2>/dev/null)),podman,docker)
# kind must use the same engine. Every target that calls kind gets this setting.
ifeq ($(ENGINE_FLAVOUR),podman)
export KIND_EXPERIMENTAL_PROVIDER ?= podman
endif

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
