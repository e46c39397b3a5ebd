# make/book.mk: see ARCHITECTURE.md for what belongs here.
