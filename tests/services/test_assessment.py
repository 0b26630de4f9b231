"""The needs assessment on the demo data: every figure equals a direct count of the rows
(through the ORM, not the figure's own SQL), drafts follow their rules, and the demo is
removed without touching real data. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from catalog.answers import load_answer_files
from catalog.loaders import bundled_catalog_files, load_files
from matcher.embeddings.encoders import FakeEncoder
from matcher.engine.ranking import ENGLISH, MULTILINGUAL
from matcher.services import answers as answer_service
from matcher.services.access import SYSTEM, Conflict, Principal
from matcher.services.assessment import Period, build_assessment
from matcher.services.demo import load_demo, remove_demo
from matcher.services.matching import MatchingService
from matcher.services.needs import confirm_draft, discard_draft
from matcher.services.reports import unmet_needs
from matcher.store.db import session_scope
from matcher.store.models import AuditEvent, Job, Match, Need, Offering, Party, ReportAnswer, SurveyRound

SAMPLE = Path(__file__).resolve().parents[2] / "evaluation" / "data" / "answers_sample.jsonl"
DAYS = 90


@pytest.fixture
def demo(sessions: sessionmaker[Session], tmp_path: Path) -> tuple[sessionmaker[Session], MatchingService]:
    encoder = FakeEncoder(64)
    matching = MatchingService(
        encoders={MULTILINGUAL: encoder, ENGLISH: encoder}, index_dir=tmp_path / "index"
    )
    with session_scope(sessions) as session:
        load_files(session, bundled_catalog_files())
    with session_scope(sessions) as session:
        load_answer_files(session, [SAMPLE])  # real records beside the examples
    with session_scope(sessions) as session:
        matching.load(session)
        report = load_demo(session, matching)
    assert report.needs == 10 and report.outcomes >= 3
    return sessions, matching


def _in(period_start: dt.datetime, when: dt.datetime) -> bool:
    return when >= period_start


def _statements(
    session: Session, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[dict]:
    """Statements of need counted by hand: answers, and non-draft needs made from no answer."""

    def inside(when: dt.datetime) -> bool:
        return (since is None or when >= since) and (until is None or when < until)

    answers = list(session.scalars(select(ReportAnswer)))
    from_answers = {answer.need_id for answer in answers if answer.need_id}
    rows = [
        {
            "source": answer.source,
            "party": answer.party_iso3,
            "language": answer.language,
            "sectors": set(answer.sectors),
            "types": set(answer.assistance_types),
            "kind": answer.challenge_kind,
            "vague": answer.vague,
        }
        for answer in answers
        if inside(answer.created_at)
    ]
    rows += [
        {
            "source": "need",
            "party": need.party_iso3,
            "language": need.language,
            "sectors": set(need.sectors) | set(need.inferred_sectors),
            "types": set(need.assistance_types) | set(need.inferred_assistance_types),
            "kind": need.challenge_kind,
            "vague": bool(need.vague),
        }
        for need in session.scalars(select(Need))
        if need.status != "draft" and need.id not in from_answers and inside(need.created_at)
    ]
    return rows


def test_every_figure_equals_the_databases_count(demo: tuple[sessionmaker[Session], MatchingService]) -> None:
    sessions, _ = demo
    today = dt.datetime.now(dt.UTC).date()
    start = today - dt.timedelta(days=DAYS - 1)
    since = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    with sessions() as session:
        assessment = build_assessment(session, SYSTEM, start=start, end=today)
        rows = _statements(session, since)
        regions = dict(session.execute(select(Party.iso3, Party.un_region)).all())
        tables = assessment.tables
        assert tables["sources"].total == len(rows) > 72
        assert dict((source, count) for source, count, _ in tables["sources"].rows) == Counter(
            r["source"] for r in rows
        )
        assert dict(tables["by_language"].rows) == Counter(r["language"] for r in rows)
        assert dict(tables["by_region"].rows) == Counter(regions[r["party"]] for r in rows)
        assert sum(count for _, count in tables["by_region"].rows) == tables["by_region"].total
        challenge = {kind: (count, vague) for kind, count, vague in tables["by_challenge"].rows}
        assert challenge == {
            kind: (n, sum(1 for r in rows if (r["kind"] or "-") == kind and r["vague"]))
            for kind, n in Counter(r["kind"] or "-" for r in rows).items()
        }
        sectors = Counter(code for r in rows for code in r["sectors"])
        assert dict(tables["by_sector"].rows) == dict(sectors)
        assert tables["by_sector"].total == sum(1 for r in rows if r["sectors"])
        assert dict(tables["by_type"].rows) == dict(Counter(code for r in rows for code in r["types"]))
        vague = {source: (count, flagged) for source, count, flagged in tables["vagueness"].rows}
        assert vague == {
            source: (n, sum(1 for r in rows if r["source"] == source and r["vague"]))
            for source, n in Counter(r["source"] for r in rows).items()
        }
        answering = {r["party"] for r in rows}
        coverage = {row[0]: row[1:] for row in tables["coverage"].rows}
        for region, (count, parties, ldc, sids) in coverage.items():
            members = list(session.scalars(select(Party).where(Party.un_region == region)))
            assert parties == len(members)
            assert count == sum(1 for party in members if party.iso3 in answering)
            assert ldc == sum(1 for party in members if party.ldc and party.iso3 in answering)
            assert sids == sum(1 for party in members if party.sids and party.iso3 in answering)
        assert tables["coverage"].total == len(answering)

        every = list(session.scalars(select(Match)))
        matches = [match for match in every if match.created_at >= since]
        assert dict(tables["proposals"].rows) == Counter(match.state for match in matches)
        assert tables["proposals"].total == len(matches)
        recorded = [m for m in every if m.outcome_at is not None and m.outcome_at >= since]
        assert dict(tables["outcomes"].rows) == Counter(m.outcome for m in recorded if m.outcome)
        steps = dict(tables["steps"].rows)
        assert steps == {
            "proposed": len(matches),
            "accepted": sum(
                1
                for m in every
                if m.decided_at and m.decided_at >= since and m.state in ("accepted", "introduced")
            ),
            "rejected": sum(
                1 for m in every if m.decided_at and m.decided_at >= since and m.state == "rejected"
            ),
            "introduced": sum(1 for m in every if m.introduced_at and m.introduced_at >= since),
            "outcome": len(recorded),
            "funded": sum(1 for m in recorded if m.outcome == "funded"),
        }
        funded = [m for m in recorded if m.outcome == "funded" and m.outcome_amount is not None]
        assert {row[0]: (row[1], row[2]) for row in tables["mobilised"].rows} == {
            currency: (
                sum(1 for m in funded if m.outcome_currency == currency),
                sum(m.outcome_amount or 0 for m in funded if m.outcome_currency == currency),
            )
            for currency in {m.outcome_currency for m in funded}
        }
        assert {row[0] for row in tables["mobilised"].rows} == {"EUR"}  # the USD funding is older

        coached = dict(tables["coached"].rows)
        assert coached["filed_vague"] >= 3 and coached["became_specific"] >= 1

        unmet = unmet_needs(session, SYSTEM, threshold=0.6, after_days=60)
        assert tables["unmet"].total == len(unmet.unmet)

        offerings = [o for o in session.scalars(select(Offering)) if o.active and o.verified]
        for sector, region, programmes, asked in tables["supply"].rows:
            covering = [
                o
                for o in offerings
                if sector in o.sectors and (region in o.regions or (not o.regions and not o.countries))
            ]
            assert programmes == len(covering), (sector, region)
            assert asked == sum(1 for r in rows if sector in r["sectors"] and regions[r["party"]] == region)
        assert tables["supply"].total == sum(1 for row in tables["supply"].rows if row[2] == 0)

        previous = _statements(session, since - dt.timedelta(days=DAYS), since)
        change = {name: (before, now) for name, before, now in assessment.change}
        assert change["statements"] == (len(previous), len(rows))
        assert change["parties"] == (len({r["party"] for r in previous}), len(answering))
        assert previous, "the demo spreads examples over both periods"
        assert "SELECT" in tables["by_sector"].query and "statements" in tables["by_sector"].query


def test_staff_only(demo: tuple[sessionmaker[Session], MatchingService]) -> None:
    sessions, _ = demo
    with sessions() as session, pytest.raises(Exception, match="only the secretariat"):
        build_assessment(session, Principal(key_id="p", role="party", party="KEN"))


def test_a_draft_is_never_matched_until_confirmed(
    demo: tuple[sessionmaker[Session], MatchingService],
) -> None:
    sessions, matching = demo
    party = Principal(key_id="ken", role="party", party="GHA")
    with sessions() as session:
        answer = session.scalar(
            select(ReportAnswer).where(ReportAnswer.party_iso3 == "GHA", ReportAnswer.demo.is_(False))
        )
        assert answer is not None
        need = answer_service.draft_from_answer(session, SYSTEM, answer.id, matching=matching)
        again = answer_service.draft_from_answer(session, SYSTEM, answer.id, matching=matching)
        assert again.id == need.id and need.status == "draft"
        assert session.scalar(select(func.count()).select_from(Match).where(Match.need_id == need.id)) == 0
        assert need.id in {draft.id for draft in answer_service.drafts_of(session, party)}
        assert need.id not in {
            item.need.id for item in unmet_needs(session, SYSTEM, threshold=0.6, after_days=0).unmet
        }
        confirmed = confirm_draft(session, party, need.id, matching=matching)
        assert confirmed.status in ("submitted", "in_review")
        assert session.scalar(select(func.count()).select_from(Job).where(Job.entity_id == need.id)) == 1
        assert session.scalar(select(func.count()).select_from(Match).where(Match.need_id == need.id)) > 0
        with pytest.raises(Conflict):
            confirm_draft(session, party, need.id, matching=matching)
        other = session.scalar(
            select(ReportAnswer).where(ReportAnswer.party_iso3 == "GHA", ReportAnswer.need_id.is_(None))
        )
        assert other is not None
        second = answer_service.draft_from_answer(session, party, other.id, matching=matching)
        discarded = discard_draft(session, party, second.id, matching=matching, reason="")
        assert discarded.status == "withdrawn" and discarded.withdraw_reason == "draft discarded"


def test_demo_loads_once_and_is_removed_without_touching_real_data(
    demo: tuple[sessionmaker[Session], MatchingService],
) -> None:
    sessions, matching = demo
    with session_scope(sessions) as session:
        assert load_demo(session, matching).needs == 0  # already loaded: nothing changes
        events_before = session.scalar(select(func.count()).select_from(AuditEvent))
        report = remove_demo(session, matching)
    assert report.removed["needs"] == 15 and report.removed["proposals"] > 0
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Need).where(Need.id.like("demo-%"))) == 0
        assert session.scalar(select(func.count()).select_from(ReportAnswer)) == 72
        assert session.scalar(select(func.count()).select_from(SurveyRound)) == 0
        assert session.scalar(select(func.count()).select_from(Match)) == 0
        demo_events = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.actor == "key:demo")
        )
        assert (session.scalar(select(func.count()).select_from(AuditEvent)) or 0) >= (events_before or 0)
        assert demo_events and demo_events > 50  # the trail keeps the demo's history


def test_periods_at_the_ends_of_the_calendar_have_no_overflow() -> None:
    """The fuzz asked for a document from year 597: the previous period would start before
    year 1 (none, then), and a period ending on the last representable day is open-ended."""
    early = Period(dt.date(597, 7, 16), dt.date(2026, 1, 1))
    assert early.previous() is None
    assert Period(dt.date(2020, 1, 1), dt.date(2020, 1, 31)).previous() == Period(
        dt.date(2019, 12, 1), dt.date(2019, 12, 31)
    )
    assert Period(dt.date(2020, 1, 1), dt.date.max).upper is None
    assert Period(dt.date(2020, 1, 1), dt.date(2020, 1, 31)).upper == dt.datetime(2020, 2, 1, tzinfo=dt.UTC)
