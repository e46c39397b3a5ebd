# make/cluster.mk: see ARCHITECTURE.md for what belongs here.
