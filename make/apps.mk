# make/apps.mk: build and run the apps as local programs (needs Rust, not Docker).

HOST_TARGET := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')

.PHONY: build-static
build-static: ## Build static release binaries of both apps into target/static/
	@echo "Building static release binaries of echo-server and relay-server ..."
	RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target $(HOST_TARGET) -p echo-server -p relay-server
	@mkdir -p target/static
	@cp target/$(HOST_TARGET)/release/echo-server target/$(HOST_TARGET)/release/relay-server target/static/
	@echo "✔ Binaries are in target/static/"
