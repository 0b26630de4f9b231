"""The pure ranking engine: plain records in, ranked and explained results out.

No database, HTTP or settings lookups live here (an import-linter contract checks it), so
the CLI, the API and the evaluation harness share one pipeline.
"""
