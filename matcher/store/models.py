"""ORM models: the store of everything the secretariat handles.

List-valued fields (sector codes, regions, ...) are JSON arrays: they are small,
always read whole, and validated against the taxonomy before they reach the store.
Times are timezone-aware UTC on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, ORMExecuteState, Session, mapped_column, relationship

from matcher.taxonomy import (
    ANSWER_SOURCES,
    API_ROLES,
    CHALLENGE_KINDS,
    MATCH_STATES,
    NEED_STATUSES,
    OPEN_NEED_STATUSES,
    OUTCOMES,
    PARTY_STATUSES,
    PROVIDER_KINDS,
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores aware datetimes as UTC; SQLite returns naive values, which are UTC by construction."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _in_list(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class Timestamped:
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Party(Base):
    __tablename__ = "parties"
    __table_args__ = (
        CheckConstraint(_in_list("status", PARTY_STATUSES), name="party_status_known"),
        CheckConstraint("length(iso3) = 3", name="party_iso3_length"),
    )

    iso3: Mapped[str] = mapped_column(String(3), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_fr: Mapped[str | None] = mapped_column(String(200))
    name_es: Mapped[str | None] = mapped_column(String(200))
    un_region: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    ldc: Mapped[bool] = mapped_column(Boolean, default=False)
    sids: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the Party's notices go (besides the e-mails of its keys); lower-cased.
    email: Mapped[str | None] = mapped_column(String(320))


class Provider(Base):
    """An organisation; several offerings share one provider."""

    __tablename__ = "providers"

    provider_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    # Where the provider's notices go (besides the e-mails of its keys); lower-cased.
    email: Mapped[str | None] = mapped_column(String(320))

    offerings: Mapped[list[Offering]] = relationship(back_populates="provider_ref")


class Offering(Timestamped, Base):
    __tablename__ = "offerings"
    __table_args__ = (
        CheckConstraint(_in_list("provider_kind", PROVIDER_KINDS), name="offering_provider_kind_known"),
        CheckConstraint(
            "funding_min_usd IS NULL OR funding_max_usd IS NULL OR funding_min_usd <= funding_max_usd",
            name="offering_funding_range_ordered",
        ),
        CheckConstraint("opens IS NULL OR closes IS NULL OR opens <= closes", name="offering_window_ordered"),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="offering_capacity_non_negative"),
    )

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.provider_id"), index=True)
    provider: Mapped[str] = mapped_column(String(300))
    provider_kind: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text)
    sectors: Mapped[list[str]] = mapped_column(default=list)
    assistance_types: Mapped[list[str]] = mapped_column(default=list)
    regions: Mapped[list[str]] = mapped_column(default=list)
    countries: Mapped[list[str]] = mapped_column(default=list)
    eligible_status: Mapped[list[str]] = mapped_column(default=list)
    languages: Mapped[list[str]] = mapped_column(default=list)
    funding_min_usd: Mapped[float | None] = mapped_column(Float)
    funding_max_usd: Mapped[float | None] = mapped_column(Float)
    url: Mapped[str | None] = mapped_column(String(1000))
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    opens: Mapped[dt.date | None] = mapped_column(Date)
    closes: Mapped[dt.date | None] = mapped_column(Date)
    capacity: Mapped[int | None] = mapped_column(Integer)
    contact: Mapped[str | None] = mapped_column(String(300))
    how_to_apply: Mapped[str | None] = mapped_column(Text)
    # The umbrella entry this programme or area belongs to (an offering id; one level).
    parent: Mapped[str | None] = mapped_column(String(200))

    provider_ref: Mapped[Provider] = relationship(back_populates="offerings")

    @property
    def provider_email(self) -> str | None:
        """The provider's notification address: kept on the provider, shared by its offerings
        (the interchange format and the API carry it on each offering as ``provider_email``)."""
        return self.provider_ref.email if self.provider_ref is not None else None


class Need(Timestamped, Base):
    """A Party's request for assistance.

    Stated codes (``sectors``, ``assistance_types``) come from the Party; inferred codes
    (``inferred_*``) come from the tagger and are kept apart, never merged.
    """

    __tablename__ = "needs"
    __table_args__ = (
        CheckConstraint(_in_list("status", NEED_STATUSES), name="need_status_known"),
        CheckConstraint("budget_usd IS NULL OR budget_usd >= 0", name="need_budget_non_negative"),
        Index("ix_needs_party_status", "party_iso3", "status"),
        CheckConstraint(
            f"challenge_kind IS NULL OR {_in_list('challenge_kind', CHALLENGE_KINDS)}",
            name="need_challenge_kind_known",
        ),
    )

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    party_iso3: Mapped[str] = mapped_column(ForeignKey("parties.iso3"))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    sectors: Mapped[list[str]] = mapped_column(default=list)
    assistance_types: Mapped[list[str]] = mapped_column(default=list)
    inferred_sectors: Mapped[list[str]] = mapped_column(default=list)
    inferred_assistance_types: Mapped[list[str]] = mapped_column(default=list)
    budget_usd: Mapped[float | None] = mapped_column(Float)
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="submitted", index=True)
    withdraw_reason: Mapped[str | None] = mapped_column(Text)
    # The lifecycle asks the Party to reconfirm an idle need, and closes it if nobody does.
    reconfirm_requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reconfirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A past need imported by ``matcher history load``: the year the help was given, if known.
    history_year: Mapped[int | None] = mapped_column(Integer)
    # How the needs assessment reads the text, kept when the text is written (like the
    # inferred codes) so that the assessment's figures are plain queries.
    challenge_kind: Mapped[str | None] = mapped_column(String(24))
    vague: Mapped[bool | None] = mapped_column(Boolean)

    party: Mapped[Party] = relationship()


class Match(Timestamped, Base):
    """A proposed pairing of a need and an offering, and its review state."""

    __tablename__ = "matches"
    __table_args__ = (
        UniqueConstraint("need_id", "offering_id", name="match_need_offering_unique"),
        CheckConstraint(_in_list("state", MATCH_STATES), name="match_state_known"),
        CheckConstraint(
            "state <> 'rejected' OR (reject_reason IS NOT NULL AND length(reject_reason) > 0)",
            name="match_rejection_has_reason",
        ),
        Index("ix_matches_state_created", "state", "created_at"),
        CheckConstraint(f"outcome IS NULL OR {_in_list('outcome', OUTCOMES)}", name="match_outcome_known"),
        CheckConstraint(
            "outcome_amount IS NULL OR outcome_amount >= 0", name="match_outcome_amount_non_negative"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    need_id: Mapped[str] = mapped_column(ForeignKey("needs.id"), index=True)
    offering_id: Mapped[str] = mapped_column(ForeignKey("offerings.id"), index=True)
    score: Mapped[float] = mapped_column(Float)
    components: Mapped[dict[str, Any]] = mapped_column(default=dict)
    explanation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rank: Mapped[int] = mapped_column(Integer)
    engine_version: Mapped[str] = mapped_column(String(64))
    # The learned re-ranker that ordered the ranking ("model-3"), or "hand-set".
    model_version: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="proposed")
    reject_reason: Mapped[str | None] = mapped_column(Text)
    reviewer: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    introduced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    close_reason: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_amount: Mapped[float | None] = mapped_column(Float)
    outcome_currency: Mapped[str | None] = mapped_column(String(3))
    outcome_note: Mapped[str | None] = mapped_column(Text)
    outcome_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    need: Mapped[Need] = relationship()
    offering: Mapped[Offering] = relationship()


class ReportAnswer(Timestamped, Base):
    """A statement of need from a national report (Article 21) or a needs survey: the
    Party's free text, how it was read (language, codes, challenge kind, vague), and the
    draft need it became, if any. One per (Party, cycle, question): a re-import updates it."""

    __tablename__ = "report_answers"
    __table_args__ = (
        UniqueConstraint("party_iso3", "cycle", "question_id", name="report_answer_party_cycle_question"),
        CheckConstraint(_in_list("source", ANSWER_SOURCES), name="report_answer_source_known"),
        CheckConstraint(
            f"challenge_kind IS NULL OR {_in_list('challenge_kind', CHALLENGE_KINDS)}",
            name="report_answer_challenge_kind_known",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    party_iso3: Mapped[str] = mapped_column(ForeignKey("parties.iso3"), index=True)
    cycle: Mapped[int] = mapped_column(Integer)
    question_id: Mapped[str] = mapped_column(String(100))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    sectors: Mapped[list[str]] = mapped_column(default=list)
    assistance_types: Mapped[list[str]] = mapped_column(default=list)
    challenge_kind: Mapped[str | None] = mapped_column(String(24))
    vague: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(8), default="report")
    need_id: Mapped[str | None] = mapped_column(ForeignKey("needs.id"))
    demo: Mapped[bool] = mapped_column(Boolean, default=False)

    party: Mapped[Party] = relationship()


class SurveyRound(Base):
    """A needs survey the secretariat opens: Parties answer a short structured form until the deadline."""

    __tablename__ = "survey_rounds"
    __table_args__ = (CheckConstraint("opens <= deadline", name="survey_round_window_ordered"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(300))
    opens: Mapped[dt.date] = mapped_column(Date)
    deadline: Mapped[dt.date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)


class SurveyResponse(Base):
    """One Party's answer to a survey round (resubmitting before the deadline replaces it)."""

    __tablename__ = "survey_responses"
    __table_args__ = (UniqueConstraint("round_id", "party_iso3", name="survey_response_round_party"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_rounds.id"), index=True)
    party_iso3: Mapped[str] = mapped_column(ForeignKey("parties.iso3"))
    sectors: Mapped[list[str]] = mapped_column(default=list)
    missing: Mapped[list[str]] = mapped_column(default=list)
    assistance_types: Mapped[list[str]] = mapped_column(default=list)
    free_text: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str | None] = mapped_column(String(8))
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    need_id: Mapped[str | None] = mapped_column(ForeignKey("needs.id"))

    round: Mapped[SurveyRound] = relationship()


MODEL_STATES = ("active", "refused", "retired")


class RankingModel(Base):
    """A learned re-ranker trained by ``matcher model train``: its parameters (plain numbers,
    ``matcher.engine.reranker.LinearReranker``), its evaluation against the hand-set weights
    on held-out case groups, and its state. ``active``: the one that orders rankings (at most
    one); ``refused``: trained but not promoted; ``retired``: active once, replaced or rolled
    back. Its version is ``model-<id>``."""

    __tablename__ = "ranking_models"
    __table_args__ = (
        CheckConstraint(_in_list("state", MODEL_STATES), name="ranking_model_state_known"),
        Index(
            "ix_ranking_models_one_active",
            "state",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    evaluation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    training: Mapped[dict[str, Any]] = mapped_column(default=dict)
    promoted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def version(self) -> str:
        return f"model-{self.id}"


class Interest(Base):
    """A provider's expression of interest in an open need, for the secretariat to see."""

    __tablename__ = "interests"
    __table_args__ = (UniqueConstraint("need_id", "offering_id", name="interest_need_offering_unique"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    need_id: Mapped[str] = mapped_column(ForeignKey("needs.id"), index=True)
    offering_id: Mapped[str] = mapped_column(ForeignKey("offerings.id"), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    need: Mapped[Need] = relationship()
    offering: Mapped[Offering] = relationship()


class CaseAssignment(Base):
    """Which secretariat officer (a staff key) handles a need's case. One row per need;
    reassigning replaces it (every change is audited). Kept apart from ``needs`` so that an
    assignment is not a catalogue change (a need write re-ranks it)."""

    __tablename__ = "case_assignments"

    need_id: Mapped[str] = mapped_column(ForeignKey("needs.id"), primary_key=True)
    officer_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    assigned_by: Mapped[str] = mapped_column(String(200))
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseNote(Base):
    """An internal note of the secretariat on a need's case: staff-only, never shown to the
    Party or a provider, no service changes or deletes one (each is also an audit event)."""

    __tablename__ = "case_notes"
    __table_args__ = (CheckConstraint("length(body) > 0", name="case_note_not_empty"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    need_id: Mapped[str] = mapped_column(ForeignKey("needs.id"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Job(Base):
    """A piece of background work caused by a write (re-match a need, re-match around an
    offering), queued in the write's own transaction and run exactly once: the first
    worker to claim it (a conditional update) runs it."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_pending", "done_at", "run_after"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    run_after: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class WorkerLease(Base):
    """A named lease held by one process at a time (the notification sender, the daily
    lifecycle), so a task that must run once across workers does."""

    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Outbox(Base):
    """One e-mail notice to one recipient, written in the same transaction as the event that
    caused it (``matcher.services.notifications.queue_notice``) and delivered later by the
    sender, at least once.

    ``message_id`` is fixed when the row is written, so a notice sent again after a crash
    carries the same Message-ID. A notice held for the recipient's daily digest
    (``digest``) never goes out on its own: it is marked sent when the digest that carries
    it is accepted, and ``digest_message_id`` names that digest. ``claimed_by`` and
    ``claimed_until`` are a claim lease like ``Job``'s: a sender that dies lets it run out.
    ``attempts`` counts claims; ``deliver_after`` is when the next one may start (pushed
    back after a failure). ``need_id`` and ``match_id`` are plain references, kept when a
    proposal is later dropped."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "sent_at", "deliver_after"),
        Index("ix_outbox_recipient_label", "recipient_label", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    recipient_label: Mapped[str] = mapped_column(String(120))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    deliver_after: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    digest_message_id: Mapped[str | None] = mapped_column(String(255))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    need_id: Mapped[str | None] = mapped_column(String(200))
    match_id: Mapped[int | None] = mapped_column(Integer)


class NotificationPreference(Base):
    """How one address wants its notices: each at once (no row, or ``digest`` false) or
    gathered into one daily digest."""

    __tablename__ = "notification_preferences"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AuditEvent(Base):
    """Append-only record of who did what. Updates and deletes are refused by the
    ORM (below) and by database triggers (see the migration)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ApiKey(Base):
    """An API key. Only a SHA-256 digest of the secret is stored (keys are long random
    strings, so a fast digest is enough); ``revoked_at`` ends it, nothing deletes it.
    ``party_iso3`` scopes a party key, ``provider_id`` a provider key."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(_in_list("role", API_ROLES), name="api_key_role_known"),
        CheckConstraint(
            "(role = 'party') = (party_iso3 IS NOT NULL) AND (role = 'provider') = (provider_id IS NOT NULL)",
            name="api_key_scope_matches_role",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    party_iso3: Mapped[str | None] = mapped_column(ForeignKey("parties.iso3"))
    provider_id: Mapped[str | None] = mapped_column(String(100))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The key holder's own address for notices (set by the holder or an admin); lower-cased.
    email: Mapped[str | None] = mapped_column(String(320))


class WebSession(Base):
    """A signed-in workbench session. The browser holds a random token; only its SHA-256
    digest is stored (``id``), so a copy of this table opens no session. Each session has
    its own form token (``csrf_token``), so any worker accepts a form another rendered.
    Sign-out, expiry and revoking the key end it."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class AppSecret(Base):
    """Secrets every worker shares (the key that signs the sign-in form's token), created
    once in the database rather than per process."""

    __tablename__ = "app_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyRecord(Base):
    """The result of a create sent with an ``Idempotency-Key``, per caller and route, so a
    retry returns it instead of creating again. ``status`` is null while the first request
    is still being processed. Expires after a day."""

    __tablename__ = "idempotency_keys"

    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), primary_key=True)
    route: Mapped[str] = mapped_column(String(100), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class CachedEmbedding(Base):
    """An embedding keyed by (encoder name, SHA-256 of the text): unchanged text is never
    embedded twice. ``vector`` holds float32 bytes of length ``dimension``."""

    __tablename__ = "embedding_cache"

    encoder: Mapped[str] = mapped_column(String(200), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    dimension: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CatalogState(Base):
    """One row: the catalogue version, bumped in the same transaction as every write to an
    offering or a need and every decision (``_record_catalog_changes`` below). A process compares it with the
    version its indexes and engine reflect: equal means fresh. The row lock taken by the
    bump orders writers, so versions follow commit order."""

    __tablename__ = "catalog_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CatalogChange(Base):
    """Which row changed at which catalogue version, so a process that reflects version N
    can apply exactly the rows changed after N instead of reloading everything."""

    __tablename__ = "catalog_changes"
    __table_args__ = (Index("ix_catalog_changes_version", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(BigInteger)
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


CATALOG_STATE_ROW = 1
CATALOG_CHANNEL = "matcher_catalog"  # PostgreSQL NOTIFY channel: a catalogue version was committed
_VERSION_KEY = "catalog_version_of_transaction"
_WRITES_KEY = "wrote_in_transaction"
# Entities whose writes change what rankings see, by the name the change log gives them
# (logged by their own id). Decisions on proposals and ranking models change what rankings
# see too, but only some of their writes do: ``_history_changes``.
_VERSIONED: dict[type, str] = {Offering: "offering", Need: "need"}


def catalog_version(session: Session) -> int:
    """The catalogue version in the database (0 before the first write)."""
    version = session.scalar(select(CatalogState.version).where(CatalogState.id == CATALOG_STATE_ROW))
    return int(version or 0)


def has_uncommitted_catalog_change(session: Session) -> bool:
    """Whether ``session``'s open transaction has written a catalogue change (not committed yet)."""
    return _VERSION_KEY in session.info


def has_uncommitted_writes(session: Session) -> bool:
    """Whether ``session``'s open transaction has written anything (a flush, or an INSERT,
    UPDATE or DELETE through ``session.execute``) not committed yet: it may hold the
    database's write lock (SQLite: the one writer; PostgreSQL: row locks) until it ends, so
    it must not wait on anything a thread waiting for that lock could hold."""
    return bool(session.info.get(_WRITES_KEY, False))


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, flush_context: object) -> None:
    session.info[_WRITES_KEY] = True


@event.listens_for(Session, "do_orm_execute")
def _note_write(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WRITES_KEY] = True


def record_catalog_change(session: Session, entity_type: str, entity_id: str) -> int:
    """Log a change the ORM hook cannot see in ``session``'s transaction (``"model"``: the
    ranking models changed, every worker reads the active one again; a kind no worker knows
    makes every worker reload); returns its version."""
    return _log_changes(session, [(entity_type, entity_id)])


@event.listens_for(Session, "before_flush")
def _record_catalog_changes(session: Session, flush_context: object, instances: object) -> None:
    """Bump the catalogue version and log the changed rows whenever a flush writes an
    offering or a need (``_stays_open`` aside), decides a proposal or changes a ranking model
    (``_history_changes``), inside the same transaction: a write and its version commit
    together. One transaction takes one version, however many flushes it makes."""
    changed = [
        (_VERSIONED[type(obj)], obj.id)
        for obj in (*session.new, *session.dirty, *session.deleted)
        if type(obj) in _VERSIONED
        and (obj not in session.dirty or (session.is_modified(obj) and not _stays_open(obj)))
    ]
    changed += _history_changes(session)
    if changed:
        _log_changes(session, changed)


def _log_changes(session: Session, changed: list[tuple[str, str]]) -> int:
    version = session.info.get(_VERSION_KEY)
    if version is None:
        version = session.execute(
            update(CatalogState)
            .where(CatalogState.id == CATALOG_STATE_ROW)
            .values(version=CatalogState.version + 1, changed_at=utcnow())
            .returning(CatalogState.version)
        ).scalar_one()
        session.info[_VERSION_KEY] = version
        if session.get_bind().dialect.name == "postgresql":
            # Delivered at commit (NOTIFY is transactional): every worker listening learns of
            # the new version at once (``matcher.services.freshness``).
            session.execute(select(func.pg_notify(CATALOG_CHANNEL, str(version))))
    now = utcnow()
    session.execute(
        insert(CatalogChange),
        [
            {"version": version, "entity_type": kind, "entity_id": entity_id, "changed_at": now}
            for kind, entity_id in dict.fromkeys(changed)
        ],
    )
    return int(version)


def _stays_open(obj: object) -> bool:
    """A need whose only change is from one open status to another (``submitted`` →
    ``in_review`` when it gets proposals): nothing a ranking or an index reads changed."""
    if not isinstance(obj, Need):
        return False
    state = inspect(obj)
    changed = {attribute.key for attribute in state.attrs if attribute.history.has_changes()}
    if not changed <= {"status", "updated_at"}:
        return False
    history = state.attrs.status.history
    before = history.deleted[0] if history.deleted else obj.status
    return before in OPEN_NEED_STATUSES and obj.status in OPEN_NEED_STATUSES


def _history_changes(session: Session) -> list[tuple[str, str]]:
    """Decisions (a proposal entering a decided state, or leaving one by an undo), logged
    under their need's id, and re-ranker changes: rankings read the history and the active
    model, so these move the catalogue version too. A proposal merely written (``proposed``)
    changes no ranking: it moves nothing."""
    decided = ("accepted", "rejected", "introduced")
    changes = []
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Match):
            if obj in session.new:
                moved = obj.state in decided
            else:
                history = inspect(obj).attrs.state.history
                moved = history.has_changes() and (
                    obj.state in decided or any(old in decided for old in history.deleted)
                )
            if moved:
                changes.append(("decision", obj.need_id))
        elif isinstance(obj, RankingModel) and (obj in session.new or session.is_modified(obj)):
            changes.append(("model", str(obj.id or "new")))
    return changes


@event.listens_for(Session, "after_transaction_end")
def _forget_transaction_version(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_VERSION_KEY, None)
        session.info.pop(_WRITES_KEY, None)


class AuditEventImmutableError(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, flush_context: object, instances: object) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent):
            raise AuditEventImmutableError("audit events are append-only")
