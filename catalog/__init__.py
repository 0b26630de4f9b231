"""The curated reference catalog (taxonomy, parties, offerings) and its loaders."""
