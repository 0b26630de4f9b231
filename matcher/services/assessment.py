"""The figures of the needs assessment (Article 14(4)), each with the query that makes it.

The synthesis document reads only what this module returns, and this module reads only the
database: every table is one SQL statement (SQLAlchemy Core), run as is and shown in the
method annex compiled for the database's dialect with its values written in, so anyone can
re-run it. Three figures also apply a rule the annex states next to the query: the vague
flag of a need's first and latest version (the request reader's own check, applied to the
audit trail's snapshots), and the unmet-needs rules of ``services.reports``.

**Statements of need** are the unit: every national-report answer and survey response
(``report_answers``), plus every need filed directly (a need made from an answer is that
answer, not a second statement), never a draft. A statement counts in a period by the day it
was recorded (``created_at``). Figures on proposals count each step on its own date: the
proposals made, accepted or rejected, introduced, and the outcomes recorded in the period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Boolean,
    String,
    and_,
    case,
    cast,
    distinct,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from matcher.engine.challenges import statement_is_vague
from matcher.engine.domain import NeedProfile
from matcher.engine.understanding import default_reader
from matcher.services.access import Principal, require_staff
from matcher.services.reports import unmet_needs
from matcher.store.models import AuditEvent, Match, Need, Offering, Party, ReportAnswer
from matcher.taxonomy import CHALLENGE_KINDS, MATCH_STATES, OUTCOMES, load_taxonomy

SOURCES = ("report", "survey", "need")
NOT_DETERMINED = "-"


@dataclass(frozen=True)
class Period:
    """Days ``start`` to ``end``, both included (``None``: unbounded)."""

    start: dt.date | None
    end: dt.date | None

    @property
    def lower(self) -> dt.datetime | None:
        return None if self.start is None else dt.datetime.combine(self.start, dt.time(), tzinfo=dt.UTC)

    @property
    def upper(self) -> dt.datetime | None:
        if self.end is None or self.end == dt.date.max:
            return None
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

    def previous(self) -> Period | None:
        """The period of the same length just before this one (none for an open start)."""
        if self.start is None or self.end is None:
            return None
        length = (self.end - self.start).days + 1
        try:
            return Period(self.start - dt.timedelta(days=length), self.start - dt.timedelta(days=1))
        except OverflowError:  # it would start before year 1: there is nothing to compare with
            return None

    def holds(self, column: Any) -> ColumnElement[bool]:
        conditions: list[ColumnElement[bool]] = []
        if self.lower is not None:
            conditions.append(column >= self.lower)
        if self.upper is not None:
            conditions.append(column < self.upper)
        return and_(true(), *conditions)


@dataclass
class Table:
    """One figure: rows of (key..., value...) as the query returns them, the total the
    document prints under it, and the query (compiled SQL) that makes both."""

    key: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    total: int | None
    query: str
    total_query: str | None = None
    rule: str | None = None  # a rule applied beyond the SQL, named by a text key
    extra: dict[str, Any] = field(default_factory=dict)

    def value(self, *keys: Any, column: int = -1) -> Any:
        for row in self.rows:
            if tuple(row[: len(keys)]) == keys:
                return row[column]
        return 0


@dataclass
class Assessment:
    period: Period
    previous: Period | None
    generated_at: dt.datetime
    dialect: str
    tables: dict[str, Table] = field(default_factory=dict)
    statements_query: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    change: list[tuple[str, float | None, float]] = field(default_factory=list)

    def __getitem__(self, key: str) -> Table:
        return self.tables[key]


# ---------------------------------------------------------------------------- queries


def statements(period: Period) -> Any:
    """Statements of need recorded in ``period`` (a subquery): source, id, party, language,
    codes as JSON text (a need's stated and inferred lists side by side), challenge kind,
    vague flag and whether it is an example of the demo data."""
    answers = select(
        ReportAnswer.source.label("source"),
        cast(ReportAnswer.id, String).label("statement_id"),
        ReportAnswer.party_iso3.label("party"),
        ReportAnswer.language.label("language"),
        cast(ReportAnswer.sectors, String).label("sectors"),
        cast(ReportAnswer.assistance_types, String).label("assistance_types"),
        ReportAnswer.challenge_kind.label("challenge_kind"),
        ReportAnswer.vague.label("vague"),
        ReportAnswer.demo.label("demo"),
    ).where(period.holds(ReportAnswer.created_at))
    from_answers = select(ReportAnswer.need_id).where(ReportAnswer.need_id.is_not(None))
    needs = select(
        literal("need", String).label("source"),
        Need.id.label("statement_id"),
        Need.party_iso3.label("party"),
        Need.language.label("language"),
        (cast(Need.sectors, String) + cast(Need.inferred_sectors, String)).label("sectors"),
        (cast(Need.assistance_types, String) + cast(Need.inferred_assistance_types, String)).label(
            "assistance_types"
        ),
        Need.challenge_kind.label("challenge_kind"),
        func.coalesce(Need.vague, false()).label("vague"),
        cast(Need.id.like("demo-%"), Boolean).label("demo"),
    ).where(Need.status != "draft", Need.id.not_in(from_answers), period.holds(Need.created_at))
    return union_all(answers, needs).subquery("statements")


def _codes(name: str, codes: Sequence[str]) -> Any:
    """A one-column table of ``codes`` (a union of literals: the same SQL on both engines)."""
    return union_all(*(select(literal(code, String).label("code")) for code in codes)).subquery(name)


def _mentions(column: Any, code: Any) -> ColumnElement[bool]:
    """The JSON text ``column`` holds the quoted ``code`` (codes never contain each other quoted)."""
    return column.like(literal('%"', String) + code + literal('"%', String))


def _compile(session: Session, statement: Any) -> str:
    bind = session.get_bind()
    return str(statement.compile(dialect=bind.dialect, compile_kwargs={"literal_binds": True}))


def _run(session: Session, statement: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in session.execute(statement)]


# ---------------------------------------------------------------------------- figures


def _statement_tables(session: Session, period: Period, tables: dict[str, Table]) -> None:
    taxonomy = load_taxonomy()
    s = statements(period)

    def add(key: str, columns: tuple[str, ...], query: Any, total_query: Any = None) -> None:
        rows = _run(session, query)
        total_sql = total_query if total_query is not None else select(func.count()).select_from(s)
        total = session.scalar(total_sql) or 0
        tables[key] = Table(
            key, columns, rows, int(total), _compile(session, query), _compile(session, total_sql)
        )

    add(
        "sources",
        ("source", "statements", "parties"),
        select(s.c.source, func.count(), func.count(distinct(s.c.party)))
        .group_by(s.c.source)
        .order_by(s.c.source),
    )
    cycles = (
        select(ReportAnswer.source, ReportAnswer.cycle, func.count())
        .where(period.holds(ReportAnswer.created_at))
        .group_by(ReportAnswer.source, ReportAnswer.cycle)
        .order_by(ReportAnswer.source, ReportAnswer.cycle)
    )
    add(
        "cycles",
        ("source", "cycle", "statements"),
        cycles,
        select(func.count()).select_from(ReportAnswer).where(period.holds(ReportAnswer.created_at)),
    )
    # Coverage: Parties with at least one statement, against the Parties of each region.
    answering = select(s.c.party).distinct().subquery("answering")
    coverage = (
        select(
            Party.un_region,
            func.count(answering.c.party),
            func.count(Party.iso3),
            func.sum(case((and_(Party.ldc, answering.c.party.is_not(None)), 1), else_=0)),
            func.sum(case((and_(Party.sids, answering.c.party.is_not(None)), 1), else_=0)),
        )
        .select_from(Party)
        .outerjoin(answering, answering.c.party == Party.iso3)
        .group_by(Party.un_region)
        .order_by(Party.un_region)
    )
    add(
        "coverage",
        ("region", "answering", "parties", "ldc", "sids"),
        coverage,
        select(func.count(distinct(s.c.party))).select_from(s),
    )
    group_totals = select(
        func.count(Party.iso3),
        func.sum(case((Party.ldc, 1), else_=0)),
        func.sum(case((Party.sids, 1), else_=0)),
    )
    tables["coverage"].extra = dict(
        zip(
            ("parties", "ldc", "sids"),
            (int(v or 0) for v in session.execute(group_totals).one()),
            strict=True,
        )
    )
    tables["coverage"].extra["group_query"] = _compile(session, group_totals)

    sectors = _codes("sector_codes", tuple(taxonomy.sectors))
    add(
        "by_sector",
        ("sector", "statements"),
        select(sectors.c.code, func.count(distinct(s.c.source + literal(":", String) + s.c.statement_id)))
        .select_from(sectors)
        .join(s, _mentions(s.c.sectors, sectors.c.code))
        .group_by(sectors.c.code)
        .order_by(func.count().desc(), sectors.c.code),
        select(func.count()).select_from(s).where(s.c.sectors.like('%"%')),
    )
    types = _codes("type_codes", tuple(taxonomy.assistance_types))
    add(
        "by_type",
        ("assistance_type", "statements"),
        select(types.c.code, func.count(distinct(s.c.source + literal(":", String) + s.c.statement_id)))
        .select_from(types)
        .join(s, _mentions(s.c.assistance_types, types.c.code))
        .group_by(types.c.code)
        .order_by(func.count().desc(), types.c.code),
        select(func.count()).select_from(s).where(s.c.assistance_types.like('%"%')),
    )
    kind = func.coalesce(s.c.challenge_kind, NOT_DETERMINED)
    add(
        "by_challenge",
        ("challenge_kind", "statements", "vague"),
        select(kind, func.count(), func.sum(case((s.c.vague, 1), else_=0))).group_by(kind).order_by(kind),
    )
    region_join = select(Party.un_region, func.count()).select_from(s).join(Party, Party.iso3 == s.c.party)
    add(
        "by_region", ("region", "statements"), region_join.group_by(Party.un_region).order_by(Party.un_region)
    )
    language = func.coalesce(s.c.language, NOT_DETERMINED)
    add(
        "by_language",
        ("language", "statements"),
        select(language, func.count()).group_by(language).order_by(language),
    )
    add(
        "vagueness",
        ("source", "statements", "vague"),
        select(s.c.source, func.count(), func.sum(case((s.c.vague, 1), else_=0)))
        .group_by(s.c.source)
        .order_by(s.c.source),
    )
    add(
        "demo",
        ("demo", "statements"),
        select(s.c.demo, func.count()).group_by(s.c.demo).order_by(s.c.demo),
    )


def _coached(session: Session, period: Period, tables: dict[str, Table]) -> None:
    """Needs whose first recorded version was vague and whose latest is not, from the audit
    trail's snapshots (``need.create`` then each ``need.update``), read by the vague check."""
    query = (
        select(AuditEvent.entity_id, AuditEvent.action, AuditEvent.after)
        .join(Need, Need.id == AuditEvent.entity_id)
        .where(
            AuditEvent.entity_type == "need",
            AuditEvent.action.in_(("need.create", "need.update")),
            period.holds(Need.created_at),
        )
        .order_by(AuditEvent.entity_id, AuditEvent.id)
    )
    versions: dict[str, list[dict[str, Any]]] = {}
    for need_id, action, after in session.execute(query):
        if action == "need.create" or need_id in versions:
            current = dict(versions[need_id][-1]) if need_id in versions else {}
            current.update(after or {})
            versions.setdefault(need_id, []).append(current)
    reader = default_reader()
    first_vague = became_specific = 0
    for need_id, snapshots in versions.items():
        if not _vague(reader, need_id, snapshots[0]):
            continue
        first_vague += 1
        if len(snapshots) > 1 and not _vague(reader, need_id, snapshots[-1]):
            became_specific += 1
    tables["coached"] = Table(
        "coached",
        ("measure", "needs"),
        [("filed_vague", first_vague), ("became_specific", became_specific)],
        len(versions),
        _compile(session, query),
        rule="rule_coached",
    )


def _vague(reader: Any, need_id: str, snapshot: dict[str, Any]) -> bool:
    reading = reader.read(
        snapshot.get("title") or "",
        snapshot.get("description") or "",
        snapshot.get("language"),
        snapshot.get("sectors") or (),
        snapshot.get("assistance_types") or (),
    )
    profile = NeedProfile(
        id=need_id,
        party=str(snapshot.get("party") or ""),
        title=snapshot.get("title") or "",
        description=snapshot.get("description") or "",
        language=reading.language,
        sectors=tuple(snapshot.get("sectors") or ()),
        assistance_types=tuple(snapshot.get("assistance_types") or ()),
        inferred_sectors=reading.inferred_sectors,
        inferred_assistance_types=reading.inferred_assistance_types,
        budget_usd=snapshot.get("budget_usd"),
    )
    return statement_is_vague(reader, profile, reading)


def _happened(period: Period, column: Any) -> ColumnElement[bool]:
    return and_(column.is_not(None), period.holds(column))


STEPS = ("proposed", "accepted", "rejected", "introduced", "outcome", "funded")


def _steps_query(period: Period) -> Any:
    """What happened to proposals in the period, each step on its own date: made
    (``created_at``), accepted or rejected (``decided_at``), introduced (``introduced_at``),
    outcome recorded and funded (``outcome_at``)."""

    def counted(condition: ColumnElement[bool], name: str) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0).label(name)

    decided = _happened(period, Match.decided_at)
    recorded = _happened(period, Match.outcome_at)
    return select(
        counted(period.holds(Match.created_at), "proposed"),
        counted(and_(decided, Match.state.in_(("accepted", "introduced"))), "accepted"),
        counted(and_(decided, Match.state == "rejected"), "rejected"),
        counted(_happened(period, Match.introduced_at), "introduced"),
        counted(recorded, "outcome"),
        counted(and_(recorded, Match.outcome == "funded"), "funded"),
    )


def _matching_tables(session: Session, period: Period, tables: dict[str, Table]) -> None:
    steps = _steps_query(period)
    counts = session.execute(steps).one()
    tables["steps"] = Table(
        "steps",
        ("step", "proposals"),
        [(step, int(value or 0)) for step, value in zip(STEPS, counts, strict=True)],
        None,
        _compile(session, steps),
    )
    made = period.holds(Match.created_at)
    by_state = select(Match.state, func.count()).where(made).group_by(Match.state).order_by(Match.state)
    total = select(func.count()).select_from(Match).where(made)
    tables["proposals"] = Table(
        "proposals",
        ("state", "proposals"),
        _run(session, by_state),
        int(session.scalar(total) or 0),
        _compile(session, by_state),
        _compile(session, total),
    )
    recorded = _happened(period, Match.outcome_at)
    outcome = (
        select(Match.outcome, func.count())
        .where(recorded, Match.outcome.is_not(None))
        .group_by(Match.outcome)
        .order_by(Match.outcome)
    )
    outcome_total = select(func.count()).select_from(Match).where(recorded, Match.outcome.is_not(None))
    tables["outcomes"] = Table(
        "outcomes",
        ("outcome", "proposals"),
        _run(session, outcome),
        int(session.scalar(outcome_total) or 0),
        _compile(session, outcome),
        _compile(session, outcome_total),
    )
    money = (
        select(Match.outcome_currency, func.count(), func.sum(Match.outcome_amount))
        .where(recorded, Match.outcome == "funded", Match.outcome_amount.is_not(None))
        .group_by(Match.outcome_currency)
        .order_by(Match.outcome_currency)
    )
    rows = _run(session, money)
    tables["mobilised"] = Table(
        "mobilised",
        ("currency", "proposals", "amount"),
        rows,
        sum(int(row[1]) for row in rows),
        _compile(session, money),
    )


def _supply_gaps(session: Session, period: Period, tables: dict[str, Table]) -> None:
    """Sector × region: active verified programmes covering both (a programme covers a
    region it lists, or every region when it restricts neither regions nor countries; one
    open to a few countries only covers no whole region), and the statements about that
    sector from that region. A cell with no programme is a supply gap."""
    taxonomy = load_taxonomy()
    sectors = _codes("sector_codes", tuple(taxonomy.sectors))
    regions = _codes("region_codes", tuple(taxonomy.regions))
    covers = and_(
        Offering.active,
        Offering.verified,
        _mentions(cast(Offering.sectors, String), sectors.c.code),
        or_(
            _mentions(cast(Offering.regions, String), regions.c.code),
            and_(cast(Offering.regions, String) == "[]", cast(Offering.countries, String) == "[]"),
        ),
    )
    supply = (
        select(sectors.c.code, regions.c.code, func.count(Offering.id))
        .select_from(sectors)
        .join(regions, true())
        .outerjoin(Offering, covers)
        .group_by(sectors.c.code, regions.c.code)
        .order_by(sectors.c.code, regions.c.code)
    )
    s = statements(period)
    demand = (
        select(sectors.c.code, Party.un_region, func.count())
        .select_from(sectors)
        .join(s, _mentions(s.c.sectors, sectors.c.code))
        .join(Party, Party.iso3 == s.c.party)
        .group_by(sectors.c.code, Party.un_region)
        .order_by(sectors.c.code, Party.un_region)
    )
    asked = {(sector, region): int(count) for sector, region, count in _run(session, demand)}
    rows = [
        (sector, region, int(count), asked.get((sector, region), 0))
        for sector, region, count in _run(session, supply)
    ]
    gaps = sum(1 for row in rows if row[2] == 0)
    tables["supply"] = Table(
        "supply",
        ("sector", "region", "programmes", "statements"),
        rows,
        gaps,
        _compile(session, supply) + ";\n\n" + _compile(session, demand),
    )


def _unmet(
    session: Session, principal: Principal, tables: dict[str, Table], threshold: float, after_days: int
) -> None:
    report = unmet_needs(session, principal, threshold=threshold, after_days=after_days)
    rows = [
        ("no_good_match", len(report.no_good_match)),
        ("waiting", len(report.waiting)),
        ("not_yet_matched", len(report.not_yet_matched)),
    ]
    query = (
        select(Need.id, Need.party_iso3, Need.created_at, Match.state, Match.score)
        .outerjoin(Match, Match.need_id == Need.id)
        .where(Need.status.in_(("submitted", "in_review")))
    )
    tables["unmet"] = Table(
        "unmet", ("reason", "needs"), rows, len(report.unmet), _compile(session, query), rule="rule_unmet"
    )
    tables["unmet"].extra = {"open": report.open_needs, "threshold": threshold, "after_days": after_days}


def _summary(session: Session, period: Period) -> dict[str, float]:
    """The headline numbers of one period (for the change table)."""
    s = statements(period)
    counts = session.execute(
        select(
            func.count(), func.count(distinct(s.c.party)), func.sum(case((s.c.vague, 1), else_=0))
        ).select_from(s)
    ).one()
    steps = dict(zip(STEPS, session.execute(_steps_query(period)).one(), strict=True))
    statements_count = int(counts[0] or 0)
    return {
        "statements": statements_count,
        "parties": int(counts[1] or 0),
        "vague_share": (int(counts[2] or 0) / statements_count) if statements_count else 0.0,
        "proposals": int(steps["proposed"] or 0),
        "accepted": int(steps["accepted"] or 0),
        "introduced": int(steps["introduced"] or 0),
        "funded": int(steps["funded"] or 0),
    }


def build_assessment(
    session: Session,
    principal: Principal,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    unmet_threshold: float = 0.6,
    unmet_after_days: int = 60,
    now: dt.datetime | None = None,
) -> Assessment:
    """Every figure of the synthesis document for days ``start``..``end`` (both included;
    ``end`` defaults to today), from the database alone. Staff only."""
    require_staff(principal, "produce the needs assessment")
    now = now or dt.datetime.now(dt.UTC)
    period = Period(start, end or now.date())
    previous = period.previous()
    assessment = Assessment(period, previous, now, session.get_bind().dialect.name)
    _statement_tables(session, period, assessment.tables)
    _coached(session, period, assessment.tables)
    _matching_tables(session, period, assessment.tables)
    _unmet(session, principal, assessment.tables, unmet_threshold, unmet_after_days)
    _supply_gaps(session, period, assessment.tables)
    assessment.statements_query = _compile(session, select(statements(period)))
    current = _summary(session, period)
    before = _summary(session, previous) if previous is not None else None
    assessment.change = [
        (name, None if before is None else before[name], value) for name, value in current.items()
    ]
    assessment.figures = {
        "challenge_kinds": CHALLENGE_KINDS,
        "states": MATCH_STATES,
        "outcomes": OUTCOMES,
        "sources": SOURCES,
    }
    return assessment
