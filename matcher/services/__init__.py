"""Use cases over the store, shared by the HTTP API, the workbench and the CLI: access and
keys, needs, offerings, matching (the engine kept fresh over the store), review, reports.
A service validates, writes, commits and refreshes what depends on the write."""
