# make/book.mk: the course book (mdBook). The book lives in lessons/.

BOOK_DIR := lessons
BOOK_OUT := $(BOOK_DIR)/book
BOOK_PORT ?= 3000

.PHONY: book serve-book test-book check-book-tools
check-book-tools:
	@command -v mdbook >/dev/null 2>&1 || { \
		echo "✖ mdbook is missing."; \
		echo "  Install it with: bash scripts/setup-test-tools.sh"; exit 1; }

book: check-book-tools ## Build the course book into lessons/book/
	@echo "Building the course book ..."
	@MDBOOK_LOG=warn mdbook build $(BOOK_DIR)
	@echo "✔ The book is ready. Open $(BOOK_OUT)/index.html in your browser."

# Without mdbook on this machine, make serve-book runs the tools image's mdbook.
serve-book: ## Show the course book at http://localhost:3000 (mdbook, or the tools image; stop with Ctrl+C)
	@if command -v mdbook >/dev/null 2>&1; then \
		echo "The book is at http://localhost:$(BOOK_PORT). Press Ctrl+C to stop."; \
		mdbook serve $(BOOK_DIR) --hostname 127.0.0.1 --port $(BOOK_PORT); \
	else \
		$(MAKE) --no-print-directory serve-book-in-tools; \
	fi

.PHONY: serve-book-in-tools
serve-book-in-tools:
	$(check_engine)
	$(call check_image,$(TOOLS_IMAGE),build)
	@echo "mdbook is not on this machine, so the tools image $(TOOLS_IMAGE) shows the book."
	@echo "The book is at http://localhost:$(BOOK_PORT). Press Ctrl+C to stop."
	$(CONTAINER_ENGINE) run -it --rm -p 127.0.0.1:$(BOOK_PORT):$(BOOK_PORT) \
		$(shell bash scripts/engine.sh user-options $(CONTAINER_ENGINE)) \
		-v "$(CURDIR):/workspace" -w /workspace $(TOOLS_IMAGE) \
		mdbook serve $(BOOK_DIR) --hostname 0.0.0.0 --port $(BOOK_PORT)

test-book: ## Check the book: build, links, spelling, style, drift and a real browser
	@test -x $(PYTEST) || { \
		echo "✖ The test tools are missing."; \
		echo "  Install them with: bash scripts/setup-test-tools.sh"; exit 1; }
	@$(PYTEST) -q tests/book
