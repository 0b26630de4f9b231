"""A FAISS vector index keyed by integer ids, with a versioned on-disk format.

Vectors are L2-normalised float32, so the inner-product score of a search result is the cosine
similarity, in [-1, 1]. Two layouts, chosen from the number of live vectors:

* **exact** (``IndexIDMap2`` over ``IndexFlatIP``): every query scans all n vectors, n·d
  multiply-adds. Results equal numpy brute force. Removal is real (``remove_ids``).
* **hnsw** (``IndexIDMap2`` over ``IndexHNSWFlat``, inner-product metric): approximate, about
  log(n)·M·efSearch distance evaluations a query (recall@10 is checked >= 0.95 against brute force
  in the tests). Removal leaves tombstones (see below).

Where the crossover lies, measured with faiss-cpu 1.15 on this project's 2-core machine: 512-d
clustered synthetic vectors, one query at a time, one OpenMP thread, M=32, efConstruction=64,
efSearch=64 (HNSW recall@10 was 1.00 on that data):

=========  ============  ============  ============
   n       exact search  HNSW search   HNSW build
=========  ============  ============  ============
  1 000       0.09 ms       0.06 ms        0.04 s
 10 000       0.84 ms       0.14 ms        1.3 s
 50 000       6.6 ms        0.24 ms        13 s
100 000       18 ms         0.27 ms        29 s
=========  ============  ============  ============

Exact search costs n·d multiply-adds: 10 000 x 512 = 5.1 M in 0.84 ms (~6 G multiply-adds/s), and
past the caches it becomes a memory scan (100 000 x 512 x 4 B = 205 MB in 18 ms). HNSW search stays
at 0.1-0.3 ms but is approximate and its build costs 0.13-0.3 ms per vector. On latency alone the
two cross near 1 000-2 000 vectors, but exact search is still under 1 ms at 10 000 and gives
perfect recall, so the threshold is 10 000: exact for any catalogue this project is likely to hold,
HNSW only where a linear scan stops being cheap (6.6 ms at 50k, 18 ms at 100k).

faiss parallelises with OpenMP: on this 2-core machine a single-query search ran 2-25x slower with
two OpenMP threads than with one (threads spin-waiting on a shared core), so a server answering one
query at a time should run with ``OMP_NUM_THREADS=1``.

HNSW graphs in faiss cannot delete nodes, so removal and replacement tombstone the node's row and
a search hides tombstones through an ``IDSelector`` evaluated inside the graph walk. The graph is
rebuilt once tombstones exceed ``rebuild_fraction`` (default 20%) of its nodes: every dead node
still costs distance computations during a walk and memory, so at 20% a query visits about
1/0.8 = 1.25x the nodes of a clean graph to collect as many live candidates, while a rebuild (n
insertions) is paid once per 0.2·n removals (0.25·n replacements), i.e. about four insertions' worth
of work per removal, amortised. A mutation that triggers a rebuild holds the lock for the build
(~0.3 ms per vector at 512-d: ~30 s at 100k).

HNSW rows: the ``IndexIDMap2`` of an HNSW index stores internal *row numbers* (the node's position
in the graph), not caller ids, because a replaced id must coexist in the graph with its dead
predecessor. ``_external_of_row`` maps row -> caller id (-1 for a tombstone). These faiss labels
never leave this module: callers search by id (``search``) or by their own row numbers
(``RowView``, what the ranking engine uses).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np

logger = logging.getLogger(__name__)

IndexKind = Literal["exact", "hnsw"]

DEFAULT_HNSW_THRESHOLD = 10_000
DEFAULT_REBUILD_FRACTION = 0.2
MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
_NORM_TOLERANCE = 1e-3
_MISSING_SCORE = -np.inf


class IndexLoadError(Exception):
    """An index on disk cannot be served; the caller should rebuild it from the database."""


class MissingIndexError(IndexLoadError):
    """No manifest in the directory: nothing was ever saved there (or a save never completed)."""


class CorruptIndexError(IndexLoadError):
    """The manifest or index file is unreadable, truncated, or inconsistent with each other."""


class StaleIndexError(IndexLoadError):
    """The index is intact but was built for another encoder, dimension or set of rows."""


def vector_id(text_id: str) -> int:
    """A stable non-negative int64 for a string id (63 bits of BLAKE2b): faiss ids are integers,
    and hashing spares the tables a second key."""
    return int.from_bytes(hashlib.blake2b(text_id.encode("utf-8"), digest_size=8).digest(), "big") >> 1


def fingerprint_rows(rows: Iterable[tuple[int, str]]) -> str:
    """Order-independent hash of ``(id, content_hash)`` pairs, e.g. ``"sha256:3f2a..."``.

    Two collections with the same ids and per-row content hashes give the same fingerprint whatever
    their order; any added, removed or edited row changes it.
    """
    digest = hashlib.sha256()
    for row_id, content_hash in sorted((int(row_id), str(content_hash)) for row_id, content_hash in rows):
        digest.update(f"{row_id}\t{content_hash}\n".encode())
    return f"sha256:{digest.hexdigest()}"


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _fsync_directory(directory: Path) -> None:
    # Makes the renames durable; not every platform lets a directory be opened (Windows).
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


class VectorIndex:
    """Inner-product search over L2-normalised float32 vectors keyed by non-negative int64 ids.

    Scores are cosine similarities in [-1, 1]. Exact below ``hnsw_threshold`` live vectors, HNSW
    from there on (``kind="auto"``); ``kind="exact"`` or ``"hnsw"`` forces one layout. All methods
    are serialised by an internal lock, so one instance may be shared between threads.
    """

    def __init__(
        self,
        dimension: int,
        *,
        encoder_name: str,
        kind: Literal["auto", "exact", "hnsw"] = "auto",
        hnsw_threshold: int = DEFAULT_HNSW_THRESHOLD,
        hnsw_m: int = 32,
        ef_construction: int = 64,
        ef_search: int = 64,
        rebuild_fraction: float = DEFAULT_REBUILD_FRACTION,
    ) -> None:
        if dimension <= 0:
            raise ValueError("dimension must be positive")
        if kind not in ("auto", "exact", "hnsw"):
            raise ValueError(f"kind must be 'auto', 'exact' or 'hnsw', not {kind!r}")
        if not 0 < rebuild_fraction < 1:
            raise ValueError("rebuild_fraction must lie in (0, 1)")
        self.dimension = dimension
        self.encoder_name = encoder_name
        self.fingerprint: str | None = None
        self._mode = kind
        self._hnsw_threshold = hnsw_threshold
        self._hnsw_m = hnsw_m
        self._ef_construction = ef_construction
        self._ef_search = ef_search
        self._rebuild_fraction = rebuild_fraction
        self._lock = threading.RLock()
        self._kind: IndexKind = "hnsw" if kind == "hnsw" else "exact"
        self._index = self._new_faiss_index(self._kind)
        # Live caller id -> label stored in faiss (the id itself for exact, the row for hnsw).
        self._label_of: dict[int, int] = {}
        # hnsw only: caller id of each graph row, -1 where the row is a tombstone.
        self._external_of_row = np.zeros(0, dtype=np.int64)
        self._tombstones: set[int] = set()
        self._lookup: tuple[np.ndarray, np.ndarray] | None = None  # see _sorted_lookup
        # Bumped by every change of the stored labels, so a RowView knows when to map again.
        self._generation = 0

    # ----------------------------------------------------------------- inspection

    @property
    def kind(self) -> IndexKind:
        """The current layout: ``"exact"`` or ``"hnsw"``."""
        return self._kind

    @property
    def tombstone_count(self) -> int:
        """Dead rows still in the HNSW graph (always 0 for the exact layout)."""
        return len(self._tombstones)

    def __len__(self) -> int:
        return len(self._label_of)

    def __contains__(self, item: object) -> bool:
        return isinstance(item, int | np.integer) and int(item) in self._label_of

    def ids(self) -> np.ndarray:
        """The live ids, ascending, as int64."""
        with self._lock:
            return np.array(sorted(self._label_of), dtype=np.int64)

    # ----------------------------------------------------------------- mutation

    def add(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under ``ids``; an id already present has its vector replaced.

        ``vectors`` must be shape ``(len(ids), dimension)`` and unit-norm (within 1e-3); ids must be
        non-negative and unique within the call.
        """
        id_array, matrix = self._validate_batch(ids, vectors)
        if len(id_array) == 0:
            return
        with self._lock:
            replaced = [int(item) for item in id_array if int(item) in self._label_of]
            self._discard(replaced)
            if (
                self._mode == "auto"
                and self._kind == "exact"
                and (len(self._label_of) + len(id_array) >= self._hnsw_threshold)
            ):
                live_ids, live_vectors = self._live_vectors()
                self._rebuild(np.concatenate([live_ids, id_array]), np.vstack([live_vectors, matrix]))
            else:
                self._append(id_array, matrix)
            self._compact_if_needed()

    def remove(self, ids: Iterable[int] | np.ndarray) -> int:
        """Remove ``ids`` (unknown ids are ignored); returns how many were removed."""
        wanted = set(np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), dtype=np.int64).tolist())
        with self._lock:
            present = [item for item in wanted if item in self._label_of]
            self._discard(present)
            self._compact_if_needed()
            return len(present)

    # ----------------------------------------------------------------- search

    def search(
        self,
        query_vectors: np.ndarray,
        k: int,
        allowed_ids: Collection[int] | np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` live vectors per query by inner product, best first.

        Returns ``(scores, ids)``, both shape ``(n_queries, k)`` (a 1-d query is one query):
        float32 cosine scores and int64 ids. Slots beyond the available results hold id -1 and
        score -inf. ``allowed_ids`` restricts the results to those ids; the restriction is applied
        inside the faiss search through an ``IDSelector`` (or, for an HNSW index and an allowed set
        smaller than ``hnsw_threshold``, by an exact scan of just the allowed vectors, which is
        then both cheaper and exact). A caller that searches one fixed set of ids often should
        search through a :class:`RowView` (``view``), which maps those ids once.
        """
        queries = self._queries(query_vectors)
        with self._lock:
            allowed_labels = None
            if allowed_ids is not None and self._label_of:
                allowed_labels = self._labels_for(allowed_ids)
            return self._search_labels(queries, k, allowed_labels)

    def vector(self, item: int) -> np.ndarray | None:
        """The stored vector of id ``item`` (float32), or None when the index does not hold it."""
        with self._lock:
            label = self._label_of.get(int(item))
            if label is None:
                return None
            return np.asarray(self._index.reconstruct(int(label)), dtype=np.float32)

    def view(self, ids: np.ndarray) -> RowView:
        """This index addressed by row: row ``r`` is ``ids[r]`` (see :class:`RowView`)."""
        return RowView(self, ids)

    # ----------------------------------------------------------------- persistence

    def save(self, directory: str | Path, *, fingerprint: str) -> Path:
        """Write the index and its manifest into ``directory``; returns the manifest path.

        ``fingerprint`` identifies the rows the index was built from (see :func:`fingerprint_rows`).
        Crash-safe: data files get fresh names and ``manifest.json``, which names them and carries
        their SHA-256, is replaced atomically last; files of the previous save are deleted after.
        One process at a time may save into a given directory.
        """
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex[:12]
        with self._lock:
            index_name = f"index-{token}.faiss"
            temporary = target / f"{index_name}.tmp"
            faiss.write_index(self._index, str(temporary))
            _fsync_file(temporary)
            os.replace(temporary, target / index_name)
            rows_name: str | None = None
            if self._kind == "hnsw":
                rows_name = f"rows-{token}.npy"
                with (target / f"{rows_name}.tmp").open("wb") as handle:
                    np.save(handle, self._external_of_row)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(target / f"{rows_name}.tmp", target / rows_name)
            manifest = {
                "format_version": FORMAT_VERSION,
                "encoder": self.encoder_name,
                "dimension": self.dimension,
                "count": len(self._label_of),
                "faiss_ntotal": int(self._index.ntotal),
                "kind": self._kind,
                "mode": self._mode,
                "built_at": _utc_now(),
                "fingerprint": fingerprint,
                "tombstones": {"count": len(self._tombstones), "rebuild_fraction": self._rebuild_fraction},
                "hnsw": {
                    "threshold": self._hnsw_threshold,
                    "m": self._hnsw_m,
                    "ef_construction": self._ef_construction,
                    "ef_search": self._ef_search,
                },
                "index_file": index_name,
                "index_sha256": _sha256_file(target / index_name),
                "rows_file": rows_name,
                "rows_sha256": _sha256_file(target / rows_name) if rows_name else None,
            }
            manifest_temporary = target / f"{MANIFEST_NAME}.{token}.tmp"
            with manifest_temporary.open("w", encoding="utf-8") as handle:
                json.dump(manifest, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(manifest_temporary, target / MANIFEST_NAME)
            _fsync_directory(target)
            self.fingerprint = fingerprint
            # Files of earlier saves, and temporaries of saves that crashed, are now unreferenced.
            keep = {MANIFEST_NAME, index_name, rows_name}
            patterns = ("index-*.faiss*", "rows-*.npy*", f"{MANIFEST_NAME}.*.tmp")
            for leftover in [path for pattern in patterns for path in target.glob(pattern)]:
                if leftover.name not in keep:
                    leftover.unlink(missing_ok=True)
        logger.info("saved %s index of %d vectors to %s", self._kind, len(self), target)
        return target / MANIFEST_NAME

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        expected_encoder: str | None = None,
        expected_dimension: int | None = None,
        expected_fingerprint: str | None = None,
    ) -> VectorIndex:
        """Load an index written by :meth:`save`, checking it against what the caller expects.

        Raises :class:`MissingIndexError` when there is no manifest, :class:`StaleIndexError` when
        the encoder, dimension or fingerprint differs from the ``expected_*`` values given, and
        :class:`CorruptIndexError` when a file is unreadable, truncated, fails its checksum or
        disagrees with the manifest. All three derive from :class:`IndexLoadError`: catch that
        and rebuild from the database.
        """
        source = Path(directory)
        manifest = _read_manifest(source)
        if expected_encoder is not None and manifest["encoder"] != expected_encoder:
            raise StaleIndexError(
                f"index in {source} was built with encoder {manifest['encoder']!r}, not {expected_encoder!r}"
            )
        if expected_dimension is not None and manifest["dimension"] != expected_dimension:
            raise StaleIndexError(
                f"index in {source} has dimension {manifest['dimension']}, not {expected_dimension}"
            )
        if expected_fingerprint is not None and manifest["fingerprint"] != expected_fingerprint:
            raise StaleIndexError(f"index in {source} was built from other rows (fingerprint differs)")

        faiss_index = _read_faiss(source / manifest["index_file"], manifest["index_sha256"])
        try:
            hnsw = manifest["hnsw"]
            index = cls(
                manifest["dimension"],
                encoder_name=manifest["encoder"],
                kind=manifest["mode"],
                hnsw_threshold=int(hnsw["threshold"]),
                hnsw_m=int(hnsw["m"]),
                ef_construction=int(hnsw["ef_construction"]),
                ef_search=int(hnsw["ef_search"]),
                rebuild_fraction=float(manifest["tombstones"]["rebuild_fraction"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise CorruptIndexError(f"manifest in {source} has invalid settings: {error!r}") from error
        index._restore(faiss_index, manifest, source)
        index.fingerprint = manifest["fingerprint"]
        logger.info("loaded %s index of %d vectors from %s", index.kind, len(index), source)
        return index

    # ----------------------------------------------------------------- internals

    def _new_faiss_index(self, kind: IndexKind) -> Any:
        inner: Any
        if kind == "exact":
            inner = faiss.IndexFlatIP(self.dimension)
        else:
            inner = faiss.IndexHNSWFlat(self.dimension, self._hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = self._ef_construction
        # faiss's Python wrapper keeps `inner` alive as long as the IndexIDMap2 lives.
        return faiss.IndexIDMap2(inner)

    def _validate_batch(
        self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        id_array = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), dtype=np.int64).reshape(-1)
        matrix = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
        if matrix.ndim != 2 or matrix.shape != (len(id_array), self.dimension):
            raise ValueError(
                f"vectors must have shape ({len(id_array)}, {self.dimension}), got {matrix.shape}"
            )
        if len(id_array) and id_array.min() < 0:
            raise ValueError("ids must be non-negative")
        if len(np.unique(id_array)) != len(id_array):
            raise ValueError("ids must be unique within one add() call")
        norms = np.linalg.norm(matrix, axis=1)
        if len(norms) and (not np.all(np.isfinite(norms)) or np.abs(norms - 1).max() > _NORM_TOLERANCE):
            raise ValueError("vectors must be finite and L2-normalised")
        return id_array, matrix

    def _append(self, id_array: np.ndarray, matrix: np.ndarray) -> None:
        self._labels_changed()
        if self._kind == "exact":
            self._index.add_with_ids(matrix, id_array)
            self._label_of.update((int(item), int(item)) for item in id_array)
            return
        # A row is the node's position in the graph, so rows never repeat and a replaced id's
        # dead row and live row can coexist.
        first_row = int(self._index.ntotal)
        rows = np.arange(first_row, first_row + len(id_array), dtype=np.int64)
        self._index.add_with_ids(matrix, rows)
        self._external_of_row = np.concatenate([self._external_of_row, id_array])
        self._label_of.update(zip(id_array.tolist(), rows.tolist(), strict=True))

    def _discard(self, ids: list[int]) -> None:
        if not ids:
            return
        self._labels_changed()
        labels = np.array([self._label_of.pop(item) for item in ids], dtype=np.int64)
        if self._kind == "exact":
            self._index.remove_ids(faiss.IDSelectorBatch(labels))
        else:
            self._external_of_row[labels] = -1
            self._tombstones.update(labels.tolist())

    def _compact_if_needed(self) -> None:
        total = int(self._index.ntotal)
        if self._kind == "hnsw" and total and len(self._tombstones) > self._rebuild_fraction * total:
            logger.info("rebuilding HNSW index: %d of %d rows are tombstones", len(self._tombstones), total)
            live_ids, live_vectors = self._live_vectors()
            self._rebuild(live_ids, live_vectors)

    def _live_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        total = int(self._index.ntotal)
        if total == 0:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.dimension), dtype=np.float32)
        # Both layouts store vectors at consecutive positions of the inner index.
        vectors = faiss.downcast_index(self._index.index).reconstruct_n(0, total)
        labels = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        if self._kind == "exact":
            return labels, vectors
        external = self._external_of_row[labels]
        live = external >= 0
        return external[live], vectors[live]

    def _rebuild(self, id_array: np.ndarray, matrix: np.ndarray) -> None:
        if self._mode == "auto":
            self._kind = "hnsw" if len(id_array) >= self._hnsw_threshold else "exact"
        self._index = self._new_faiss_index(self._kind)
        self._label_of = {}
        self._labels_changed()
        self._external_of_row = np.zeros(0, dtype=np.int64)
        self._tombstones = set()
        self._append(id_array, matrix)
        logger.debug("rebuilt %s index with %d vectors", self._kind, len(id_array))

    def _sorted_lookup(self) -> tuple[np.ndarray, np.ndarray]:
        """Live ids, sorted, and their faiss labels (rebuilt after any change)."""
        if self._lookup is None:
            ids = np.fromiter(self._label_of.keys(), dtype=np.int64, count=len(self._label_of))
            labels = np.fromiter(self._label_of.values(), dtype=np.int64, count=len(self._label_of))
            order = np.argsort(ids)
            self._lookup = (ids[order], labels[order])
        return self._lookup

    def _labels_changed(self) -> None:
        self._lookup = None
        self._generation += 1

    def _queries(self, query_vectors: np.ndarray) -> np.ndarray:
        queries = np.atleast_2d(np.asarray(query_vectors, dtype=np.float32))
        if queries.ndim != 2 or queries.shape[1] != self.dimension:
            raise ValueError(f"query vectors must have shape (n, {self.dimension}), got {queries.shape}")
        return np.ascontiguousarray(queries)

    def _search_labels(
        self, queries: np.ndarray, k: int, allowed_labels: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``search`` restricted to faiss labels (distinct live labels from ``_labels_of``, or
        None for every live vector). Call with the lock held."""
        width = max(k, 0)
        scores = np.full((len(queries), width), _MISSING_SCORE, dtype=np.float32)
        result_ids = np.full((len(queries), width), -1, dtype=np.int64)
        if width == 0 or len(queries) == 0 or not self._label_of:
            return scores, result_ids
        if allowed_labels is not None:
            allowed_labels = np.asarray(allowed_labels, dtype=np.int64)
            if len(allowed_labels) == 0:
                return scores, result_ids
            if self._kind == "hnsw" and len(allowed_labels) < self._hnsw_threshold:
                return self._scan_rows(queries, width, allowed_labels, scores, result_ids)
        return self._faiss_search(queries, width, allowed_labels, scores, result_ids)

    def _labels_of(self, ids: np.ndarray) -> np.ndarray:
        """The faiss label of each id (-1 where the id is not live), aligned with ``ids``.
        Valid until the index changes (``_generation``)."""
        with self._lock:
            known_ids, known_labels = self._sorted_lookup()
            wanted = np.asarray(ids, dtype=np.int64)
            if len(known_ids) == 0:
                return np.full(len(wanted), -1, dtype=np.int64)
            places = np.clip(np.searchsorted(known_ids, wanted), 0, len(known_ids) - 1)
            return np.where(known_ids[places] == wanted, known_labels[places], -1)

    def _labels_for(self, allowed_ids: Collection[int] | np.ndarray) -> np.ndarray:
        """Sorted faiss labels of the live ``allowed_ids`` (unknown ids are ignored)."""
        wanted = np.asarray(
            list(allowed_ids) if not isinstance(allowed_ids, np.ndarray) else allowed_ids, dtype=np.int64
        )
        labels = self._labels_of(wanted)
        return np.unique(labels[labels >= 0])

    def _faiss_search(
        self,
        queries: np.ndarray,
        width: int,
        allowed_labels: np.ndarray | None,
        scores: np.ndarray,
        result_ids: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        # Selectors are plain C++ objects borrowed by SearchParameters: keep Python references to
        # every one of them until the search returns.
        selectors: list[Any] = []
        keep_alive: list[np.ndarray] = []
        if allowed_labels is not None and self._kind == "hnsw":
            # HNSW labels are graph rows 0..n-1: a bitmap is cheaper to build and to test
            # than the hash set of IDSelectorBatch (measured: 100k-offering match p99 down).
            total = int(self._index.ntotal)
            bits = np.zeros(total, dtype=bool)
            bits[allowed_labels] = True
            keep_alive.append(np.packbits(bits, bitorder="little"))
            selectors.append(faiss.IDSelectorBitmap(total, faiss.swig_ptr(keep_alive[-1])))
        elif allowed_labels is not None:
            # Allowed labels are live by construction, so they already exclude tombstones.
            selectors.append(faiss.IDSelectorBatch(allowed_labels))
        elif self._tombstones:
            selectors.append(faiss.IDSelectorBatch(np.fromiter(self._tombstones, dtype=np.int64)))
            selectors.append(faiss.IDSelectorNot(selectors[-1]))
        selector = selectors[-1] if selectors else None
        if self._kind == "hnsw":
            parameters: Any = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
            parameters.efSearch = max(self._ef_search, width)
        else:
            parameters = faiss.SearchParameters()
        if selector is not None:
            parameters.sel = selector
        found_scores, labels = self._index.search(queries, width, params=parameters)
        valid = labels >= 0
        if self._kind == "hnsw":
            labels = np.where(valid, self._external_of_row[np.where(valid, labels, 0)], -1)
            valid &= labels >= 0
        scores[valid] = found_scores[valid]
        result_ids[valid] = labels[valid]
        return scores, result_ids

    def _scan_rows(
        self,
        queries: np.ndarray,
        width: int,
        rows: np.ndarray,
        scores: np.ndarray,
        result_ids: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        graph: Any = faiss.downcast_index(self._index.index)
        storage: Any = faiss.downcast_index(graph.storage)
        # A view of the stored vectors (no copy): scoring every stored vector and picking the
        # allowed rows is cheaper than gathering the allowed vectors first.
        stored = faiss.rev_swig_ptr(storage.get_xb(), storage.ntotal * storage.d).reshape(
            storage.ntotal, storage.d
        )
        external = self._external_of_row[rows]
        similarity = (queries @ stored.T)[:, rows]
        take = min(width, len(rows))
        for query_number, row_scores in enumerate(similarity):
            # Best score first, ties by ascending id, as the flat index orders them.
            head = np.argpartition(-row_scores, take - 1)[:take] if take < len(rows) else np.arange(len(rows))
            boundary = row_scores[head].min()
            head = np.flatnonzero(row_scores >= boundary)  # keep every tie at the boundary
            order = head[np.lexsort((external[head], -row_scores[head]))][:take]
            scores[query_number, :take] = row_scores[order]
            result_ids[query_number, :take] = external[order]
        return scores, result_ids

    def _restore(self, faiss_index: Any, manifest: dict[str, Any], source: Path) -> None:
        kind = manifest["kind"]
        total = int(faiss_index.ntotal)
        if not isinstance(faiss_index, faiss.IndexIDMap2) or faiss_index.d != self.dimension:
            raise CorruptIndexError(f"index file in {source} is not a {self.dimension}-d IndexIDMap2")
        if total != manifest["faiss_ntotal"]:
            raise CorruptIndexError(
                f"index file in {source} holds {total} vectors, manifest says {manifest['faiss_ntotal']}"
            )
        inner: Any = faiss.downcast_index(faiss_index.index)
        expected_inner = faiss.IndexHNSWFlat if kind == "hnsw" else faiss.IndexFlatIP
        if kind not in ("exact", "hnsw") or not isinstance(inner, expected_inner):
            raise CorruptIndexError(f"index file in {source} does not hold a {kind!r} index")
        labels = faiss.vector_to_array(faiss_index.id_map).astype(np.int64)
        self._kind = kind
        self._index = faiss_index
        if kind == "exact":
            self._label_of = {int(label): int(label) for label in labels}
            self._labels_changed()
        else:
            rows_name = manifest["rows_file"]
            if not rows_name:
                raise CorruptIndexError(f"manifest in {source} names no rows file for an HNSW index")
            external = _read_rows(source / rows_name, manifest["rows_sha256"])
            if len(external) != total or not np.array_equal(labels, np.arange(total)):
                raise CorruptIndexError(f"rows file in {source} does not match the HNSW graph")
            self._external_of_row = external
            live_rows = np.flatnonzero(external >= 0)
            self._label_of = dict(zip(external[live_rows].tolist(), live_rows.tolist(), strict=True))
            self._labels_changed()
            self._tombstones = set(np.flatnonzero(external < 0).tolist())
        if len(self._label_of) != manifest["count"] or len(self._label_of) != len(labels) - len(
            self._tombstones
        ):
            raise CorruptIndexError(
                f"index in {source} holds {len(self._label_of)} distinct live ids, manifest says "
                f"{manifest['count']}"
            )


class RowView:
    """A :class:`VectorIndex` addressed by row number over a fixed, ordered list of ids.

    The ranking engine numbers its offerings 0..n-1 and asks for the best of some rows (the
    eligible ones); this view answers in rows, so the engine never sees faiss labels or ids.
    The per-search work stays proportional to the rows asked for: the rows' faiss labels are
    mapped once per state of the index (a search picks them by row instead of looking up
    every eligible id again), and go straight to the faiss selector (a bitmap over graph rows
    for HNSW, measured faster than a hash set at 100k offerings; see ``_faiss_search``). The
    view stays correct when the index changes: the labels are mapped again on the next
    search. Safe to share between threads (it works under the index's lock).
    """

    def __init__(self, index: VectorIndex, ids: np.ndarray) -> None:
        self.index = index
        self._ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        self._row_of_sorted = np.argsort(self._ids)
        self._sorted_ids = self._ids[self._row_of_sorted]
        self._labels = np.zeros(0, dtype=np.int64)
        self._generation = -1  # the index's generation ``_labels`` was mapped at

    def __len__(self) -> int:
        return len(self._ids)

    def search_rows(self, vector: np.ndarray, rows: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """The best ``depth`` of ``rows`` by cosine with ``vector`` (one query), best first, as
        ``(rows, scores)``: int64 row numbers and float32 cosines in [-1, 1]. A row whose id the
        index does not hold is never returned; fewer than ``depth`` rows come back when fewer
        are held."""
        index = self.index
        queries = index._queries(np.asarray(vector, dtype=np.float32).reshape(1, -1))
        with index._lock:
            if self._generation != index._generation:
                self._labels = index._labels_of(self._ids)
                self._generation = index._generation
            labels = self._labels[np.asarray(rows, dtype=np.int64)]
            scores, ids = index._search_labels(queries, depth, labels[labels >= 0])
        found = ids[0] >= 0
        found_ids, found_scores = ids[0][found], scores[0][found]
        if len(self._ids) == 0 or len(found_ids) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        places = np.clip(np.searchsorted(self._sorted_ids, found_ids), 0, len(self._ids) - 1)
        known = self._sorted_ids[places] == found_ids
        return self._row_of_sorted[places[known]], found_scores[known]

    def row_vector(self, row: int) -> np.ndarray | None:
        """The stored vector of row ``row`` (float32), or None when the index does not hold it."""
        return self.index.vector(int(self._ids[row])) if 0 <= row < len(self._ids) else None


_REQUIRED_MANIFEST_KEYS = {
    "format_version": int,
    "encoder": str,
    "dimension": int,
    "count": int,
    "faiss_ntotal": int,
    "kind": str,
    "mode": str,
    "built_at": str,
    "fingerprint": str,
    "tombstones": dict,
    "hnsw": dict,
    "index_file": str,
    "index_sha256": str,
}


def _read_manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST_NAME
    if not path.is_file():
        raise MissingIndexError(f"no {MANIFEST_NAME} in {source}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorruptIndexError(f"cannot read {path}: {error}") from error
    if not isinstance(manifest, dict):
        raise CorruptIndexError(f"{path} is not a JSON object")
    for key, expected_type in _REQUIRED_MANIFEST_KEYS.items():
        if not isinstance(manifest.get(key), expected_type):
            raise CorruptIndexError(f"{path} lacks a valid {key!r}")
    if manifest["format_version"] != FORMAT_VERSION:
        raise StaleIndexError(f"{path} has format version {manifest['format_version']}, not {FORMAT_VERSION}")
    return manifest


def _check_file(path: Path, expected_sha256: str | None) -> None:
    if not path.is_file():
        raise CorruptIndexError(f"{path} named by the manifest is missing")
    if _sha256_file(path) != expected_sha256:
        raise CorruptIndexError(f"{path} does not match the checksum in the manifest (truncated or altered)")


def _read_faiss(path: Path, expected_sha256: str) -> Any:
    _check_file(path, expected_sha256)
    try:
        return faiss.read_index(str(path))
    except RuntimeError as error:
        raise CorruptIndexError(f"faiss cannot read {path}: {error}") from error


def _read_rows(path: Path, expected_sha256: str | None) -> np.ndarray:
    _check_file(path, expected_sha256)
    try:
        rows = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise CorruptIndexError(f"cannot read {path}: {error}") from error
    if rows.ndim != 1 or rows.dtype != np.int64:
        raise CorruptIndexError(f"{path} is not a 1-d int64 array")
    return rows
