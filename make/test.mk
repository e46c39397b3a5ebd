# make/test.mk: every test that runs on this machine, and the benchmark.

VENV := .venv
PYTEST := $(VENV)/bin/pytest

.PHONY: test test-setup test-apps test-python
test: test-setup test-apps test-python ## Run every test (apps, images, manifests, book)
	@echo "✔ All tests passed."

test-setup: ## Install the test tools this machine lacks (apt, pip, cargo)
	@bash scripts/setup-test-tools.sh

test-apps: ## Test the Rust apps: format, lint, unit and integration tests
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cargo nextest run --workspace --locked --no-fail-fast

test-python: build-static ## Test images, manifests and the book (pytest)
	$(PYTEST) tests

.PHONY: bench
bench: build-static ## Load-test echo and relay against nginx (BENCH_SECONDS=10, COLD_BUILD=1)
	@python3 bench/run.py --no-build
