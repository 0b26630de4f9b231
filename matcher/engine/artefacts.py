"""The engine's per-offering artefacts on disk, so a restart does not rebuild them.

Building the engine over 100,000 offerings tags and tokenises every description and embeds
every description sentence: about a minute. All of that depends only on each offering's text
and codes, so it is saved beside the vector indexes (``MATCHER_DATA_DIR/index/engine/``) and
read back at start:

* per row: the offering id, its artefact key (``catalogue.artefact_key``: a digest of its text
  and codes), whether it is active;
* the BM25 term counts (row-major, with the vocabulary), the code profiles, the sub-sectors
  each description mentions (the tagger's, for the sub-sector component);
* the sentence vectors (float16), read back as a **memory map**: workers on one machine share
  the pages, and only the rows a ranking touches are read;
* the fingerprint each vector index had when this was saved, so the service can tell exactly
  which offerings an index holds and repair it row by row instead of rebuilding it.

Versioned like the indexes: ``manifest.json`` names the files with their SHA-256 and carries
``artefact_version`` (the format, the taxonomy and the source of the code that computes the
artefacts: a change to the tagger or tokeniser makes the saved artefacts stale, and they are
recomputed, never served). A row whose key differs from its offering's is recomputed alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from matcher.engine import catalogue as catalogue_module
from matcher.engine import codes as codes_module
from matcher.engine import lexicon as lexicon_module
from matcher.engine import sentence_vectors as sentences_module
from matcher.engine.catalogue import Artefacts
from matcher.engine.domain import OfferingProfile
from matcher.engine.lexicon import RowMajor, Vocabulary
from matcher.engine.ranking import RankingEngine
from matcher.engine.sentence_vectors import SentenceVectors
from matcher.engine.text import lexical as lexical_module
from matcher.engine.text import tagging as tagging_module
from matcher.taxonomy import Taxonomy

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: the sub-sectors each description mentions
MANIFEST = "manifest.json"
_ARRAYS = (
    "active",
    "term_offsets",
    "term_ids",
    "term_counts",
    "lengths",
    "code_profiles",
    "sentence_offsets",
    "sentence_present",
    "sentence_matrix",
)


class ArtefactsUnusable(Exception):
    """Nothing usable on disk (missing, damaged or stale): build from the offerings."""


def artefact_version(taxonomy: Taxonomy) -> str:
    """A digest of what the artefacts depend on besides the offerings: this format, the
    taxonomy, and the source of the modules that tag, tokenise and profile."""
    digest = hashlib.sha256(f"format {FORMAT_VERSION}\n{taxonomy!r}\n".encode())
    for module in (
        lexical_module,
        tagging_module,
        codes_module,
        catalogue_module,
        lexicon_module,
        sentences_module,
    ):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()


@dataclass
class SavedEngine:
    """Artefacts read back from disk, row by row (row ``r`` was offering ``ids[r]``)."""

    ids: list[str]
    keys: list[str]
    active: np.ndarray
    vocabulary: Vocabulary
    rows: RowMajor
    code_profiles: np.ndarray
    subsectors: list[tuple[str, ...]]
    sentences: SentenceVectors
    index_fingerprints: dict[str, str]

    def __post_init__(self) -> None:
        self.position = {offering_id: row for row, offering_id in enumerate(self.ids)}

    def artefacts(self, offering: OfferingProfile, key: str) -> Artefacts | None:
        """The saved artefacts of ``offering`` if its text and codes are unchanged (``key``)."""
        row = self.position.get(offering.id)
        if row is None or self.keys[row] != key:
            return None
        return Artefacts(key, self.rows.row(row), self.code_profiles[row], self.subsectors[row])

    def indexed(self) -> dict[str, str]:
        """What each vector index held when saved: active offering id → artefact key."""
        return {self.ids[row]: self.keys[row] for row in np.flatnonzero(self.active).tolist()}

    def sentences_for(
        self, offerings: Sequence[OfferingProfile], keys: Sequence[str]
    ) -> SentenceVectors | None:
        """The saved sentence vectors laid out for ``offerings`` (row-aligned), sharing the
        saved matrix when the saved rows come first in the same order; rows that changed are
        left to the caller (absent from the returned overlay: None). None when the layout
        differs (the caller embeds)."""
        if len(offerings) < len(self.ids) or any(
            offerings[row].id != offering_id for row, offering_id in enumerate(self.ids)
        ):
            return None
        stale = {
            row: None
            for row in range(len(offerings))
            if row >= len(self.ids) or self.keys[row] != keys[row] or not self.active[row]
        }
        return self.sentences.changed(stale)


def save_engine(
    directory: Path, engine: RankingEngine, index_fingerprints: Mapping[str, str], version: str
) -> None:
    """Write ``engine``'s artefacts into ``directory`` (crash-safe: new files first, the
    manifest replaced atomically last, then the files of earlier saves removed). One process
    at a time may save into a directory (the service holds a file lock)."""
    directory.mkdir(parents=True, exist_ok=True)
    catalogue = engine.catalogue
    rows = catalogue.lexicon.rows()
    sentence_store = engine.sentences.compacted()
    arrays: dict[str, np.ndarray] = {
        "active": np.asarray(catalogue.active, dtype=bool),
        "term_offsets": rows.offsets,
        "term_ids": rows.ids,
        "term_counts": rows.counts,
        "lengths": rows.lengths,
        "code_profiles": np.asarray(catalogue.code_profiles, dtype=np.float32),
        "sentence_offsets": sentence_store.offsets,
        "sentence_present": np.asarray(sentence_store.present, dtype=bool),
        "sentence_matrix": np.ascontiguousarray(sentence_store.matrix),
    }
    token = uuid.uuid4().hex[:12]
    files: dict[str, dict[str, str]] = {}
    for name, array in arrays.items():
        files[name] = _write(directory, f"{name}-{token}.npy", lambda handle, a=array: np.save(handle, a))
    listing = {
        "ids": [offering.id for offering in catalogue.offerings],
        "keys": list(catalogue.keys),
        "subsectors": [list(found) for found in catalogue.mentioned_subsectors],
        "vocabulary": list(catalogue.vocabulary.words),
    }
    files["listing"] = _write(
        directory,
        f"listing-{token}.json",
        lambda handle: handle.write(json.dumps(listing, ensure_ascii=False).encode("utf-8")),
    )
    manifest = {
        "format_version": FORMAT_VERSION,
        "artefact_version": version,
        "count": len(catalogue),
        "sentence_dimension": int(sentence_store.dimension),
        "index_fingerprints": dict(index_fingerprints),
        "files": files,
    }
    temporary = directory / f"{MANIFEST}.{token}.tmp"
    temporary.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, directory / MANIFEST)
    _fsync_directory(directory)
    keep = {MANIFEST, *(entry["file"] for entry in files.values())}
    for leftover in directory.iterdir():
        if leftover.name not in keep:
            leftover.unlink(missing_ok=True)
    logger.info("saved the engine's artefacts of %d offerings to %s", len(catalogue), directory)


def load_engine(directory: Path, version: str) -> SavedEngine:
    """Read what ``save_engine`` wrote; ``ArtefactsUnusable`` when missing, damaged (a
    checksum fails) or made by another ``artefact_version``."""
    path = directory / MANIFEST
    if not path.is_file():
        raise ArtefactsUnusable(f"no {MANIFEST} in {directory}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest["format_version"] != FORMAT_VERSION or manifest["artefact_version"] != version:
            raise ArtefactsUnusable("saved by another version of the engine (format, taxonomy or code)")
        files = manifest["files"]
        arrays = {name: _read_array(directory, files[name]) for name in _ARRAYS}
        listing = json.loads(_read_bytes(directory, files["listing"]).decode("utf-8"))
    except (OSError, KeyError, TypeError, ValueError) as problem:
        raise ArtefactsUnusable(f"cannot read the artefacts in {directory}: {problem!r}") from problem
    ids, keys = list(listing["ids"]), list(listing["keys"])
    subsectors = [tuple(found) for found in listing.get("subsectors", ())]
    if not len(ids) == len(keys) == len(subsectors) == len(arrays["active"]) == manifest["count"]:
        raise ArtefactsUnusable(f"the artefacts in {directory} disagree on their row count")
    sentence_store = SentenceVectors(
        arrays["sentence_offsets"],
        arrays["sentence_matrix"],
        arrays["sentence_present"],
        dimension=int(manifest["sentence_dimension"]),
    )
    return SavedEngine(
        ids=ids,
        keys=keys,
        active=arrays["active"],
        vocabulary=Vocabulary(listing["vocabulary"]),
        rows=RowMajor(arrays["term_offsets"], arrays["term_ids"], arrays["term_counts"], arrays["lengths"]),
        code_profiles=arrays["code_profiles"],
        subsectors=subsectors,
        sentences=sentence_store,
        index_fingerprints=dict(manifest["index_fingerprints"]),
    )


def _write(directory: Path, name: str, write: Any) -> dict[str, str]:
    temporary = directory / f"{name}.tmp"
    with temporary.open("wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, directory / name)
    return {"file": name, "sha256": _sha256(directory / name)}


def _read_bytes(directory: Path, entry: Mapping[str, str]) -> bytes:
    data = (directory / entry["file"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise ValueError(f"{entry['file']} does not match its checksum (truncated or altered)")
    return data


def _read_array(directory: Path, entry: Mapping[str, str]) -> np.ndarray:
    path = directory / entry["file"]
    if _sha256(path) != entry["sha256"]:
        raise ValueError(f"{entry['file']} does not match its checksum (truncated or altered)")
    # A read-only memory map: nothing is copied, and processes reading one file share its pages.
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    return array if array.size else np.load(path, allow_pickle=False)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
