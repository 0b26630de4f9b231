"""Documents the product writes for the Conference of the Parties (the needs-assessment synthesis)."""
