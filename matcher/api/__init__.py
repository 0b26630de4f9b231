"""HTTP API (FastAPI). Not built yet: see the README."""
