"""Text handling shared by the engine: language detection, tokenising and BM25, keyword tagging."""
