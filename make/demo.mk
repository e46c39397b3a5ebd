# make/demo.mk: see ARCHITECTURE.md for what belongs here.
