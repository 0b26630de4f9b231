"""Minamata Match: a matchmaking recommender for Minamata Convention assistance."""

__version__ = "0.1.0"
