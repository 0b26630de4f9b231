"""Use cases over the store: building the engine, and (later) needs, offerings, reviews."""
