"""Sentence encoders and the vector index they feed (no knowledge of ranking or storage)."""

from matcher.embeddings.encoders import (
    Encoder,
    EncoderConfigError,
    FakeEncoder,
    MissingEncoderDependencyError,
    SentenceTransformerEncoder,
    UniversalSentenceEncoder,
    build_encoder,
    normalize_rows,
)
from matcher.embeddings.index import (
    CorruptIndexError,
    IndexLoadError,
    MissingIndexError,
    StaleIndexError,
    VectorIndex,
    fingerprint_rows,
)

__all__ = [
    "CorruptIndexError",
    "Encoder",
    "EncoderConfigError",
    "FakeEncoder",
    "IndexLoadError",
    "MissingEncoderDependencyError",
    "MissingIndexError",
    "SentenceTransformerEncoder",
    "StaleIndexError",
    "UniversalSentenceEncoder",
    "VectorIndex",
    "build_encoder",
    "fingerprint_rows",
    "normalize_rows",
]
