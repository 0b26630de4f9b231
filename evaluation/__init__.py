"""Evaluation: labelled sets, metrics, benchmarks and reports."""
