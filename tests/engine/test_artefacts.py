"""The engine's per-offering artefacts saved and read back: same rankings, nothing redone
that did not change, and nothing stale or damaged served."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from evaluation.dataset import load_labelled_set
from matcher.embeddings.encoders import Encoder
from matcher.engine import builder
from matcher.engine.artefacts import ArtefactsUnusable, artefact_version, load_engine, save_engine
from matcher.engine.domain import OfferingProfile
from matcher.engine.ranking import RankingEngine
from matcher.engine.text.lexical import sentences
from matcher.engine.text.tagging import KeywordTagger
from matcher.taxonomy import load_taxonomy
from tests.factories import FAKE_ENCODERS, fake_vectors

TODAY = dt.date(2026, 11, 28)


class Counting:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return encoder.encode(texts)


def build(offerings: Sequence[OfferingProfile], embed: Counting, **options: object) -> RankingEngine:
    return builder.build_engine(
        offerings=offerings, encoders=FAKE_ENCODERS, embed=embed, taxonomy=load_taxonomy(), **options
    )  # type: ignore[arg-type]


def top(engine: RankingEngine) -> list[list[tuple[str, float]]]:
    data = load_labelled_set()
    out = []
    for need in data.needs[:15]:
        query = engine.prepare(need)
        ranking = engine.rank(
            query, data.parties[need.party], need_vectors=fake_vectors(query), k=10, today=TODAY
        )
        out.append([(item.offering.id, round(item.score, 6)) for item in ranking.results])
    return out


def test_saved_artefacts_rebuild_the_same_engine_without_tagging_or_embedding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offerings = load_labelled_set().offerings
    first = build(offerings, Counting())
    version = artefact_version(load_taxonomy())
    save_engine(tmp_path, first, {"multilingual": "sha256:x"}, version)
    saved = load_engine(tmp_path, version)
    assert saved.index_fingerprints == {"multilingual": "sha256:x"}
    assert isinstance(saved.sentences.matrix, np.memmap)  # shared pages, read on demand
    tagged: list[str] = []
    original = KeywordTagger.tag
    monkeypatch.setattr(
        KeywordTagger,
        "tag",
        lambda self, text, language=None: tagged.append(text) or original(self, text, language),
    )
    embed = Counting()
    again = build(offerings, embed, saved=saved)
    every_sentence = {text for offering in offerings for text in sentences(offering.description)}
    assert not set(embed.texts) & every_sentence  # no sentence embedded again
    assert [text for text in tagged if text in {o.description for o in offerings}] == []
    assert top(again) == top(first)
    # The sub-sectors each description mentions (the tagger's) come back with the rest.
    assert again.catalogue.mentioned_subsectors == first.catalogue.mentioned_subsectors
    assert any(first.catalogue.mentioned_subsectors)
    np.testing.assert_array_equal(again.catalogue.subsectors, first.catalogue.subsectors)


def test_a_changed_offering_is_recomputed_alone(tmp_path: Path) -> None:
    offerings = list(load_labelled_set().offerings)
    version = artefact_version(load_taxonomy())
    save_engine(tmp_path, build(offerings, Counting()), {}, version)
    edited = dataclasses.replace(offerings[4], description="Mercury waste storage. Training for customs.")
    offerings[4] = edited
    embed = Counting()
    again = build(offerings, embed, saved=load_engine(tmp_path, version))
    assert top(again) == top(build(offerings, Counting()))
    assert "Mercury waste storage." in embed.texts and "Training for customs." in embed.texts


def test_stale_or_damaged_artefacts_are_never_served(tmp_path: Path) -> None:
    offerings = load_labelled_set().offerings[:10]
    version = artefact_version(load_taxonomy())
    save_engine(tmp_path, build(offerings, Counting()), {}, version)
    with pytest.raises(ArtefactsUnusable, match="another version"):
        load_engine(tmp_path, "some other code")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    (tmp_path / manifest["files"]["code_profiles"]["file"]).write_bytes(b"truncated")
    with pytest.raises(ArtefactsUnusable, match="checksum"):
        load_engine(tmp_path, version)
    with pytest.raises(ArtefactsUnusable, match="no manifest"):
        load_engine(tmp_path / "nothing", version)
