"""The score's specificity and the coaching's vague check, read from the same inputs."""

from __future__ import annotations

import pytest

from matcher.engine.text.tagging import TagEvidence
from matcher.engine.vagueness import (
    CLEAR_LEAD,
    DETAILED_WORDS,
    GENERIC_WORDING,
    NO_CLEAR_LEADER,
    NO_SPECIFIC_SUBJECT,
    SPECIFIC_EVIDENCE,
    SPECIFICITY_SCALE,
    Vagueness,
)
from matcher.taxonomy import GENERAL_SECTOR, load_taxonomy
from tests.factories import make_need


def test_the_general_sector_is_a_taxonomy_sector() -> None:
    """The generality component and both readings below key on this code: were the
    taxonomy to rename it, vague needs would silently lose their lift."""
    assert GENERAL_SECTOR in load_taxonomy().sectors


def test_inputs_leave_the_general_sector_out_of_the_subject() -> None:
    evidence = TagEvidence(sectors={GENERAL_SECTOR: 5.0, "waste": 1.0, "asgm": 2.0})
    need = make_need(description="One two three four.")
    inputs = Vagueness.of(need, evidence)
    assert inputs == Vagueness(states_a_sector=False, subject_strength=3.0, content_words=5)


@pytest.mark.parametrize(
    ("states", "strength", "expected"),
    [
        (True, 0.0, 1.0),  # a stated sector is specific, whatever the text says
        (False, 0.0, 0.0),
        (False, 1.0, 1.0 / SPECIFICITY_SCALE),
        (False, SPECIFICITY_SCALE, 1.0),
        (False, 10.0, 1.0),  # capped
    ],
)
def test_specificity_grades_the_subject(states: bool, strength: float, expected: float) -> None:
    assert Vagueness(states, strength, 100).specificity == pytest.approx(expected)


def test_check_needs_no_subject_and_one_more_reason() -> None:
    short, long = DETAILED_WORDS - 1, DETAILED_WORDS
    weak = SPECIFIC_EVIDENCE - 1
    assert Vagueness(False, weak, short).check().vague
    assert Vagueness(False, weak, short).check().reasons == (NO_SPECIFIC_SUBJECT, GENERIC_WORDING)
    assert not Vagueness(False, weak, long).check().vague  # only one reason
    assert not Vagueness(False, SPECIFIC_EVIDENCE, short).check().vague  # a subject
    stated = Vagueness(True, 0.0, short).check()
    assert not stated.vague and stated.reasons == (GENERIC_WORDING,)
    flat = [0.5] * 9 + [0.5 - CLEAR_LEAD / 2]
    led = [0.5] * 9 + [0.5 - CLEAR_LEAD * 2]
    assert Vagueness(False, weak, long).check(flat).reasons == (NO_SPECIFIC_SUBJECT, NO_CLEAR_LEADER)
    assert Vagueness(False, weak, long).check(flat).vague
    assert not Vagueness(False, weak, long).check(led).vague
    assert not Vagueness(False, weak, long).check(flat[:9]).vague  # fewer than ten: no verdict
