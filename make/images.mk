# make/images.mk: see ARCHITECTURE.md for what belongs here.
