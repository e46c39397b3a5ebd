# make/apps.mk: build and run the apps as local programs (needs Rust, not Docker).

HOST_TARGET := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')

.PHONY: build-static
build-static: ## Build static release binaries of both apps into target/static/
	@echo "Building static release binaries of echo-server and relay-server ..."
	RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target $(HOST_TARGET) -p echo-server -p relay-server
	@mkdir -p target/static
	@# Copy to a temporary name, then rename: a test may be running the old binary right now,
	@# and writing over a running program fails with "Text file busy".
	@for app in echo-server relay-server; do \
		cp target/$(HOST_TARGET)/release/$$app target/static/.$$app.tmp && \
		mv -f target/static/.$$app.tmp target/static/$$app; \
	done
	@echo "✔ Binaries are in target/static/"
