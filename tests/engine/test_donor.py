"""The donor view's one pass against ``score_pair``, the pair scored the long way."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from evaluation.dataset import load_labelled_set
from matcher.engine.donor import OpenNeeds, open_need
from matcher.engine.ranking import RankingEngine
from tests.factories import fake_vectors, make_engine, make_offering

TODAY = dt.date(2026, 11, 28)


@pytest.fixture(scope="module")
def dev_engine() -> tuple[RankingEngine, OpenNeeds, dict[str, object]]:
    data = load_labelled_set()
    # Budgets on some needs, so the budget component is exercised too.
    needs = [
        dataclasses.replace(need, budget_usd=[None, 5_000.0, 2_000_000.0][number % 3])
        for number, need in enumerate(data.needs)
    ]
    engine = make_engine(data.offerings)
    prepared = {}
    for need in needs:
        query = engine.prepare(need)
        party = data.parties[need.party]
        prepared[need.id] = open_need(
            engine, query, party, fake_vectors(query), confidential=False, today=TODAY
        )
    return engine, OpenNeeds(prepared), {"needs": needs, "parties": data.parties}


def test_every_pair_of_the_dev_set_scores_as_in_the_need_ranking(
    dev_engine: tuple[RankingEngine, OpenNeeds, dict[str, object]],
) -> None:
    engine, needs, _ = dev_engine
    checked = 0
    for offering in engine.offerings[::9]:
        page = needs.rank(engine, offering.id, today=TODAY, limit=1000)
        by_need = {match.need_id: match for match in page.matches}
        for need in needs:
            pair = engine.score_pair(
                need.query, need.party, offering.id, need_vectors=need.vectors, today=TODAY
            )
            if pair is None:
                assert need.id not in by_need, (offering.id, need.id)
                continue
            mine = by_need[need.id]
            assert mine.score == pytest.approx(pair.score, abs=1e-5), (offering.id, need.id)
            assert mine.components == pytest.approx(pair.components, abs=1e-5)
            # Explanations agree, their components up to the last rounded digit.
            assert mine.explanation["components"] == pytest.approx(pair.explanation["components"], abs=2e-6)
            assert {**mine.explanation, "components": None} == {**pair.explanation, "components": None}
            checked += 1
    assert checked > 300


def test_cut_off_paging_and_order(dev_engine: tuple[RankingEngine, OpenNeeds, dict[str, object]]) -> None:
    engine, needs, _ = dev_engine
    offering = engine.offerings[0].id
    every = needs.rank(engine, offering, today=TODAY, limit=1000)
    scores = [match.score for match in every.matches]
    assert scores == sorted(scores, reverse=True) and every.total == len(every.matches)
    second = needs.rank(engine, offering, today=TODAY, offset=3, limit=4)
    assert [m.need_id for m in second.matches] == [m.need_id for m in every.matches[3:7]]
    assert second.total == every.total
    cut = scores[5]
    above = needs.rank(engine, offering, today=TODAY, min_score=cut, limit=1000)
    assert above.total == sum(1 for score in scores if score >= cut)


def test_a_new_offering_is_scored_as_in_the_need_ranking() -> None:
    """Needs prepared before an offering existed: the offering is still scored as the need's
    own ranking scores it (its BM25 is counted in the normaliser)."""
    data = load_labelled_set()
    engine = make_engine(data.offerings)
    needs = OpenNeeds(
        {
            need.id: open_need(
                engine,
                engine.prepare(need),
                data.parties[need.party],
                fake_vectors(engine.prepare(need)),
                confidential=need.id.endswith("1"),
                today=TODAY,
            )
            for need in data.needs[:20]
        }
    )
    extra = make_offering(
        id="zz-new",
        title="Mercury waste storage",
        description="Mercury waste storage and disposal. Training for customs officers.",
        sectors=("waste", "storage"),
    )
    grown = make_engine([*data.offerings, extra])
    page = needs.rank(grown, "zz-new", today=TODAY, limit=100, include_confidential=False)
    assert page.matches
    for match in page.matches:
        need = needs.get(match.need_id)
        assert need is not None and not need.confidential
        pair = grown.score_pair(need.query, need.party, "zz-new", need_vectors=need.vectors, today=TODAY)
        assert pair is not None
        assert match.score == pytest.approx(pair.score, abs=2e-3)


def test_with_history_every_pair_scores_and_is_explained_as_in_the_need_ranking() -> None:
    """The history's three components (served neighbours, region record, rejections) and the
    track record in the explanation, as ``score_pair`` gives them."""
    from evaluation.dataset import DEFAULT_GROUPS, DEFAULT_HISTORY, load_groups, load_history
    from matcher.engine.history import Declined

    data = load_labelled_set()
    records = load_history(DEFAULT_HISTORY, data, load_groups(DEFAULT_GROUPS))
    # Rejections too (the dev history has none): every third record turned an offering down.
    offerings = [offering.id for offering in data.offerings]
    reasons = ("Not relevant to this request", "Not eligible", "The programme is closed")
    records = [
        dataclasses.replace(
            record,
            declined=(Declined(offerings[number % len(offerings)], reasons[number % len(reasons)]),),
        )
        if number % 3 == 0
        else record
        for number, record in enumerate(records)
    ]
    engine = make_engine(data.offerings, history=records)
    needs = OpenNeeds(
        {
            need.id: open_need(
                engine,
                engine.prepare(need),
                data.parties[need.party],
                fake_vectors(engine.prepare(need)),
                confidential=False,
                today=TODAY,
            )
            for need in data.needs
        }
    )
    checked = 0
    seen = dict.fromkeys(("history_served", "history_region", "history_rejected", "subsector"), 0)
    for offering in engine.offerings[::3]:
        page = needs.rank(engine, offering.id, today=TODAY, limit=1000)
        by_need = {match.need_id: match for match in page.matches}
        for need in needs:
            pair = engine.score_pair(
                need.query, need.party, offering.id, need_vectors=need.vectors, today=TODAY
            )
            if pair is None:
                assert need.id not in by_need
                continue
            mine = by_need[need.id]
            assert mine.components == pytest.approx(pair.components, abs=1e-5), (offering.id, need.id)
            assert mine.score == pytest.approx(pair.score, abs=1e-5)
            assert {**mine.explanation, "components": None} == {**pair.explanation, "components": None}
            for name in seen:
                seen[name] += pair.components[name] != 0
            checked += 1
    assert checked > 300 and all(count > 5 for count in seen.values()), seen
