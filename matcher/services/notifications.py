"""E-mail notices: queued with their event, delivered by one sender, at least once.

**Queueing.** ``queue_notice`` is called by the service that makes an event happen, inside
that event's transaction: it only adds ``Outbox`` rows (one per recipient address), so a
notice exists exactly when its event was committed. Who gets what:

=======================  ===========================================================
event                    recipients
=======================  ===========================================================
need.received            the need's Party
need.status              the need's Party (``details``: ``{"from": old, "to": new}``)
need.idle                the need's Party (``details``: ``{"days": N}``, optional)
proposal.accepted        the need's Party and the offering's provider
proposal.introduced      the need's Party and the offering's provider
interest.expressed       the secretariat (an ``Interest``: need, offering, note)
need.fits_programme      the offering's provider (a newly proposed ``Match``), never for a
                         confidential need
=======================  ===========================================================

"The Party" is ``Party.email`` plus the e-mail of every active party key of that Party;
"the provider" is ``Provider.email`` plus the e-mail of every active provider key of that
``provider_id``; "the secretariat" is every active secretariat or admin key with an
e-mail. One address gets one copy of a notice (the first role it appears under wins,
the Party first). A Party reads its notices in the need's language when that is one of
the six UN languages (English otherwise); providers and the secretariat read English. A
provider never reads a confidential need's description or budget, only its title and
Party.

**Delivery.** ``deliver_pending`` claims due rows (a conditional UPDATE: one claimer wins,
and a claim is a lease that runs out if its sender dies), sends each through SMTP and
marks it sent only after the server accepted it. A sender killed between the server's
acceptance and the mark sends the notice again after the claim runs out, with the same
``Message-ID`` (fixed when the row was written): delivery is *at least once*, and a
receiving mail system can drop the repeat by its Message-ID. A failure is recorded on the
row (``last_error``) and retried after 30 s × 2^(attempts − 1), at most an hour apart,
for as long as it takes: a notice is never given up (an operator reads ``last_error`` on
the recipient's page or in the table). With no ``MATCHER_SMTP_URL`` nothing is sent and
notices wait.

**Digest.** An address whose preference says *digest* gets its notices queued with
``digest = true``. They are sent as one e-mail per address per day: at the first pass at or
after ``MATCHER_DIGEST_HOUR`` (UTC), every digest row written before that hour goes out
together. The digest has its own Message-ID, written on its rows (``digest_message_id``)
before it is sent, so a digest resent after a crash keeps it; each row keeps its own
``message_id`` too (used only if the row is released to go out alone). Each row is marked
sent when the digest is accepted. Turning the digest off releases the waiting rows as
single notices.

**One sender.** ``NotificationSender`` holds the named lease ``notifications``
(``services/leases.py``) while it sends, so across the workers of ``matcher serve`` and a
``matcher notify run`` from cron, one process sends at a time.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from matcher.addresses import optional_email
from matcher.services import notice_texts as texts
from matcher.services.access import Forbidden, Invalid, NotFound, Principal, audit, require_staff
from matcher.services.leases import release, try_acquire, worker_name
from matcher.services.mail import (
    MESSAGE_ERRORS,
    Mailer,
    SmtpTarget,
    build_message,
    envelope_sender,
    message_id_domain,
)
from matcher.settings import Settings, get_settings
from matcher.store.models import (
    ApiKey,
    Interest,
    Match,
    Need,
    NotificationPreference,
    Outbox,
    Party,
    Provider,
    WorkerLease,
    utcnow,
)
from matcher.taxonomy import UN_LANGUAGES

logger = logging.getLogger(__name__)

EVENTS = (
    "need.received",
    "need.status",
    "proposal.accepted",
    "proposal.introduced",
    "interest.expressed",
    "need.fits_programme",
    "need.idle",
)
LEASE = "notifications"
RETRY_FIRST = dt.timedelta(seconds=30)
RETRY_MOST = dt.timedelta(hours=1)
STAFF_ROLES = ("secretariat", "admin")
RECENT = 20


# --------------------------------------------------------------------------- recipients


@dataclass(frozen=True)
class Recipient:
    """One address and what it stands for: ``party:KEN``, ``provider:unep`` or ``key:k…``."""

    email: str
    label: str


def party_recipients(session: Session, party_iso3: str) -> list[Recipient]:
    """The Party's address, then the addresses of its active party keys."""
    found: list[Recipient] = []
    party = session.get(Party, party_iso3)
    if party is not None and party.email:
        found.append(Recipient(party.email, f"party:{party.iso3}"))
    found += _key_recipients(session, ApiKey.role == "party", ApiKey.party_iso3 == party_iso3)
    return found


def provider_recipients(session: Session, provider_id: str) -> list[Recipient]:
    """The provider's address, then the addresses of its active provider keys."""
    found: list[Recipient] = []
    provider = session.get(Provider, provider_id)
    if provider is not None and provider.email:
        found.append(Recipient(provider.email, f"provider:{provider.provider_id}"))
    found += _key_recipients(session, ApiKey.role == "provider", ApiKey.provider_id == provider_id)
    return found


def secretariat_recipients(session: Session) -> list[Recipient]:
    """The addresses of the active secretariat and admin keys."""
    return _key_recipients(session, ApiKey.role.in_(STAFF_ROLES))


def _key_recipients(session: Session, *conditions: Any) -> list[Recipient]:
    keys = session.scalars(
        select(ApiKey)
        .where(*conditions, ApiKey.revoked_at.is_(None), ApiKey.email.is_not(None))
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    return [Recipient(key.email, f"key:{key.id}") for key in keys if key.email]


# --------------------------------------------------------------------------- queueing


@dataclass(frozen=True)
class _Notice:
    recipients: list[Recipient]
    language: str
    subject: str
    body: str


def queue_notice(
    session: Session,
    event: str,
    *,
    need: Need | None = None,
    match: Match | None = None,
    interest: Interest | None = None,
    details: Mapping[str, Any] | None = None,
) -> list[Outbox]:
    """Queue the e-mails of ``event`` in the caller's transaction and return the new rows.

    Adds rows and nothing else (no commit, no flush of its own; its lookups autoflush the
    caller's pending changes as any query does): the notices are committed, or rolled back,
    with the event. What each event needs: ``need`` for ``need.received``,
    ``need.status`` (with ``details={"from": old, "to": new}``) and ``need.idle``
    (``details={"days": N}``, else the days since the need last changed); ``match`` for
    ``proposal.accepted``, ``proposal.introduced`` and ``need.fits_programme``; ``interest``
    for ``interest.expressed``. A missing one is a ``ValueError`` (a programming error, not
    a user's). An event with nobody to tell (no address known, or ``need.fits_programme``
    for a confidential need) queues nothing and returns ``[]``.

    Links are made absolute with ``MATCHER_PUBLIC_URL`` and Message-IDs take the domain of
    ``MATCHER_MAIL_FROM``, both read through ``get_settings()`` when the notice is queued.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown notice event {event!r}; known: {', '.join(EVENTS)}")
    settings = get_settings()
    notices = _compose(session, event, need=need, match=match, interest=interest, details=details or {})
    chosen: dict[str, tuple[Recipient, _Notice]] = {}
    for notice in notices:
        for recipient in notice.recipients:
            chosen.setdefault(recipient.email, (recipient, notice))
    if not chosen:
        return []
    preferences = digest_preferences(session, list(chosen))
    need_id = need.id if need is not None else None
    if match is not None:
        need_id = match.need_id
    elif interest is not None:
        need_id = interest.need_id
    domain = message_id_domain(settings.mail_from)
    now = utcnow()
    rows = [
        Outbox(
            event=event,
            recipient=recipient.email,
            recipient_label=recipient.label,
            language=notice.language,
            subject=notice.subject[:500],
            body=notice.body,
            message_id=new_message_id("notice", domain),
            created_at=now,
            deliver_after=now,
            digest=preferences.get(recipient.email, False),
            attempts=0,
            need_id=need_id,
            match_id=match.id if match is not None else None,
        )
        for recipient, notice in chosen.values()
    ]
    session.add_all(rows)
    return rows


def new_message_id(kind: str, domain: str) -> str:
    """A globally unique Message-ID such as ``<notice-3f2a…@example.org>``."""
    return f"<{kind}-{uuid.uuid4().hex}@{domain}>"


def _compose(
    session: Session,
    event: str,
    *,
    need: Need | None,
    match: Match | None,
    interest: Interest | None,
    details: Mapping[str, Any],
) -> list[_Notice]:
    """The notices of one event, one per audience, recipients in the order that wins a tie."""
    if event in ("need.received", "need.status", "need.idle"):
        if need is None:
            raise ValueError(f"{event} needs need=")
        return [_party_notice(session, event, need, None, details)]
    if event in ("proposal.accepted", "proposal.introduced"):
        if match is None:
            raise ValueError(f"{event} needs match=")
        return [
            _party_notice(session, event, match.need, match, details),
            _provider_notice(session, event, match),
        ]
    if event == "need.fits_programme":
        if match is None:
            raise ValueError(f"{event} needs match=")
        if match.need.confidential:
            return []
        return [_provider_notice(session, event, match)]
    if interest is None:
        raise ValueError(f"{event} needs interest=")
    return [_secretariat_notice(session, event, interest)]


def _link(path: str) -> str:
    public_url = get_settings().public_url
    return f"{public_url.rstrip('/')}{path}" if public_url else path


def party_language(need: Need) -> str:
    """The language of a Party's notices about ``need``: the need's, if a UN language."""
    return need.language if need.language in UN_LANGUAGES else "en"


def _party_notice(
    session: Session, event: str, need: Need, match: Match | None, details: Mapping[str, Any]
) -> _Notice:
    language = party_language(need)
    fields: dict[str, Any] = {"title": need.title, "need_id": need.id, "link": _link(f"/needs/{need.id}")}
    if event == "need.status":
        if "to" not in details:
            raise ValueError('need.status needs details={"from": old, "to": new}')
        fields["old_status"] = texts.status_name(language, str(details.get("from") or "-"))
        fields["new_status"] = texts.status_name(language, str(details["to"]))
    if event == "need.idle":
        days = details.get("days")
        if days is None:
            days = max(0, (utcnow() - need.updated_at).days) if need.updated_at else 0
        fields["days"] = int(days)
    if match is not None:
        offering = match.offering
        fields.update(
            programme=offering.title,
            provider=offering.provider,
            next_steps=texts.next_steps(language, offering.contact, offering.how_to_apply),
        )
    subject, body = texts.party_text(event, language, fields)
    return _Notice(party_recipients(session, need.party_iso3), language, subject, body)


def _provider_notice(session: Session, event: str, match: Match) -> _Notice:
    need, offering = match.need, match.offering
    # A provider may open a need's page only if it is not confidential; otherwise its own
    # programmes page lists the accepted pairing.
    link = _link("/programmes" if need.confidential else f"/needs/{need.id}")
    fields = {
        "title": need.title,
        "need_id": need.id,
        "party": need.party.name_en,
        "programme": offering.title,
        "offering_id": offering.id,
        "link": link,
        "need_details": texts.need_details_for_provider(need.description, need.budget_usd, need.confidential),
    }
    subject, body = texts.provider_text(event, fields)
    return _Notice(provider_recipients(session, offering.provider_id), "en", subject, body)


def _secretariat_notice(session: Session, event: str, interest: Interest) -> _Notice:
    need, offering = interest.need, interest.offering
    note = (interest.note or "").strip()
    fields = {
        "title": need.title,
        "need_id": need.id,
        "party": need.party.name_en,
        "programme": offering.title,
        "offering_id": offering.id,
        "provider": offering.provider,
        "link": _link(f"/needs/{need.id}"),
        "note": f'Their note: "{note}"\n\n' if note else "",
    }
    subject, body = texts.secretariat_text(event, fields)
    return _Notice(secretariat_recipients(session), "en", subject, body)


# --------------------------------------------------------------------------- preferences and the recipient's page


def digest_preferences(session: Session, emails: Sequence[str]) -> dict[str, bool]:
    """Address → wants a daily digest, for the addresses that have a preference."""
    if not emails:
        return {}
    rows = session.scalars(select(NotificationPreference).where(NotificationPreference.email.in_(emails)))
    return {row.email: row.digest for row in rows}


@dataclass(frozen=True)
class Address:
    """An address shown on a recipient's page, and whether the viewer may change it."""

    label: str
    email: str | None
    editable: bool
    digest: bool = False


@dataclass(frozen=True)
class RecipientPage:
    """What ``/account`` shows: the key's own address, its organisation's address, their
    digest preferences and the latest notices sent or waiting for them."""

    key: Address
    organisation: Address | None
    organisation_name: str | None
    notices: list[Outbox] = field(default_factory=list)

    @property
    def organisation_scope(self) -> tuple[str, str] | None:
        """("party", "KEN") or ("provider", "unep") for the organisation shown."""
        if self.organisation is None:
            return None
        kind, _, identifier = self.organisation.label.partition(":")
        return kind, identifier

    @property
    def addresses(self) -> list[Address]:
        return [address for address in (self.key, self.organisation) if address is not None]


def _organisation(
    session: Session, principal: Principal, party: str | None, provider: str | None
) -> tuple[str, str | None, str] | None:
    """(label, address, name) of the organisation whose notices the viewer manages: its own
    Party or provider; for staff, the one asked for."""
    if not principal.is_staff:
        if party or provider:
            raise Forbidden("only the secretariat opens another recipient's page")
        party, provider = principal.party, principal.provider
    if party:
        found = session.get(Party, party.upper())
        if found is None:
            raise NotFound(f"no party {party!r}")
        return f"party:{found.iso3}", found.email, found.name_en
    if provider:
        organisation = session.get(Provider, provider)
        if organisation is None:
            raise NotFound(f"no provider {provider!r}")
        return f"provider:{organisation.provider_id}", organisation.email, organisation.name
    return None


def recipient_page(
    session: Session, principal: Principal, *, party: str | None = None, provider: str | None = None
) -> RecipientPage:
    """The viewer's recipient page. A key sees its own address and its Party's or provider's
    (read only); staff may open a Party's (``party``) or provider's (``provider``) and change
    its address. Notices are the latest ``RECENT`` queued for these addresses under these
    roles (by label, so an address typed into another key never shows someone else's mail)."""
    key = session.get(ApiKey, principal.key_id)
    if key is None:
        raise NotFound("this key no longer exists")
    organisation = _organisation(session, principal, party, provider)
    emails = [email for email in (key.email, organisation[1] if organisation else None) if email]
    preferences = digest_preferences(session, emails)
    own = Address(f"key:{key.id}", key.email, True, preferences.get(key.email or "", False))
    shown = None
    if organisation is not None:
        label, email, _name = organisation
        shown = Address(label, email, principal.is_staff, preferences.get(email or "", False))
    labels = [own.label] + ([shown.label] if shown else [])
    notices = list(
        session.scalars(
            select(Outbox).where(Outbox.recipient_label.in_(labels)).order_by(Outbox.id.desc()).limit(RECENT)
        )
    )
    return RecipientPage(own, shown, organisation[2] if organisation else None, notices)


def _checked(email: str | None) -> str | None:
    try:
        return optional_email(email)
    except ValueError as problem:
        raise Invalid(str(problem), [{"loc": "body.email", "message": str(problem)}]) from None


def set_organisation_email(
    session: Session,
    principal: Principal,
    *,
    party: str | None = None,
    provider: str | None = None,
    email: str | None,
) -> None:
    """Staff set (or clear, with None or blank) a Party's or provider's notification
    address. In the caller's transaction, audited."""
    require_staff(principal, "change a Party's or provider's notification address")
    address = _checked(email)
    target: Party | Provider | None
    if party:
        target = session.get(Party, party.upper())
        kind, entity_id = "party", party.upper()
    elif provider:
        target = session.get(Provider, provider)
        kind, entity_id = "provider", provider
    else:
        raise Invalid("name a party or a provider")
    if target is None:
        raise NotFound(f"no {kind} {entity_id!r}")
    if target.email != address:
        audit(
            session, principal, f"{kind}.email", kind, entity_id, {"email": target.email}, {"email": address}
        )
        target.email = address


def set_digest(session: Session, principal: Principal, email: str, digest: bool) -> NotificationPreference:
    """Save whether ``email`` gets a daily digest. Allowed for the viewer's own key's address,
    its Party's or provider's address, or (staff) any Party's or provider's address.
    Turning the digest off releases the notices waiting for it as single e-mails (sent at the
    next pass); turning it on holds only notices queued from now on. In the caller's
    transaction, audited."""
    address = _checked(email)
    if address is None or not _may_manage(session, principal, address):
        raise Forbidden("you can only choose how your own notices arrive")
    preference = session.get(NotificationPreference, address)
    before = preference.digest if preference is not None else False
    if preference is None:
        preference = NotificationPreference(email=address, digest=digest)
        session.add(preference)
    preference.digest = digest
    if before != digest:
        audit(
            session,
            principal,
            "notification.preference",
            "email",
            address,
            {"digest": before},
            {"digest": digest},
        )
    if not digest:
        session.execute(
            update(Outbox)
            .where(Outbox.recipient == address, Outbox.digest.is_(True), Outbox.sent_at.is_(None))
            .values(digest=False)
            .execution_options(synchronize_session=False)
        )
    return preference


def _may_manage(session: Session, principal: Principal, address: str) -> bool:
    key = session.get(ApiKey, principal.key_id)
    if key is not None and key.email == address:
        return True
    if principal.party:
        party = session.get(Party, principal.party)
        if party is not None and party.email == address:
            return True
    if principal.provider:
        provider = session.get(Provider, principal.provider)
        if provider is not None and provider.email == address:
            return True
    if principal.is_staff:
        for model in (Party, Provider):
            if session.scalar(select(func.count()).select_from(model).where(model.email == address)):
                return True
    return False


# --------------------------------------------------------------------------- delivery


@dataclass
class DeliveryReport:
    """What one delivery pass did."""

    sent: int = 0  # notices marked sent (each notice of a digest counts)
    digests: int = 0  # digest e-mails among the e-mails sent
    failed: int = 0  # sending attempts that failed (the notice waits for its retry)
    waiting: int = 0  # notices not yet sent after the pass
    skipped: str | None = None  # why nothing was tried
    error: str | None = None  # why the pass stopped early (the server could not be reached)

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.digests += other.digests
        self.failed += other.failed
        self.waiting = other.waiting
        self.skipped = other.skipped
        self.error = other.error or self.error

    def summary(self) -> str:
        digests = f" ({self.digests} digest e-mail{'s' if self.digests != 1 else ''})" if self.digests else ""
        line = f"notices: {self.sent} sent{digests}, {self.failed} failed, {self.waiting} waiting"
        if self.skipped:
            line += f"; nothing sent: {self.skipped}"
        if self.error:
            line += f"; stopped: {self.error}"
        return line


def latest_digest_time(moment: dt.datetime, hour: int) -> dt.datetime:
    """The most recent digest time at or before ``moment``: today at ``hour`` (UTC) once
    that hour has come, else yesterday at ``hour``."""
    today = moment.astimezone(dt.UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return today if today <= moment else today - dt.timedelta(days=1)


def _claimable(moment: dt.datetime) -> tuple[Any, ...]:
    return (
        Outbox.sent_at.is_(None),
        Outbox.deliver_after <= moment,
        or_(Outbox.claimed_until.is_(None), Outbox.claimed_until < moment),
    )


def _due_singles(session: Session, moment: dt.datetime, limit: int) -> list[int]:
    query = select(Outbox.id).where(*_claimable(moment), Outbox.digest.is_(False))
    return list(session.scalars(query.order_by(Outbox.id).limit(limit)))


def _digest_conditions(moment: dt.datetime, hour: int) -> tuple[Any, ...]:
    """Digest notices due at ``moment``: claimable, and written before the latest digest time."""
    return (
        *_claimable(moment),
        Outbox.digest.is_(True),
        Outbox.created_at < latest_digest_time(moment, hour),
    )


def _due_digest_recipients(session: Session, moment: dt.datetime, hour: int, limit: int) -> list[str]:
    query = select(Outbox.recipient).where(*_digest_conditions(moment, hour)).distinct()
    return list(session.scalars(query.order_by(Outbox.recipient).limit(limit)))


def _due_digest_ids(session: Session, moment: dt.datetime, hour: int, recipient: str) -> list[int]:
    query = select(Outbox.id).where(*_digest_conditions(moment, hour), Outbox.recipient == recipient)
    return list(session.scalars(query.order_by(Outbox.id)))


def _claim(
    session: Session, ids: Iterable[int], worker: str, moment: dt.datetime, hold: dt.timedelta
) -> list[Outbox]:
    """Claim ``ids`` for ``worker`` (those still due and unclaimed) and return the rows won.
    Commits: other senders must see the claim at once. Two senders' UPDATEs on one row are
    serialised by the database, and the loser's condition no longer holds."""
    wanted = list(ids)
    if not wanted:
        return []
    session.execute(
        update(Outbox)
        .where(Outbox.id.in_(wanted), *_claimable(moment))
        .values(claimed_by=worker, claimed_until=moment + hold, attempts=Outbox.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    won = select(Outbox).where(Outbox.id.in_(wanted), Outbox.claimed_by == worker, Outbox.sent_at.is_(None))
    return list(session.scalars(won.order_by(Outbox.id).execution_options(populate_existing=True)))


def _mark_sent(session: Session, ids: list[int], moment: dt.datetime) -> int:
    """Mark ``ids`` sent (those not already marked). Commits; returns how many it marked."""
    result = session.execute(
        update(Outbox)
        .where(Outbox.id.in_(ids), Outbox.sent_at.is_(None))
        .values(sent_at=moment, claimed_by=None, claimed_until=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def retry_delay(attempts: int) -> dt.timedelta:
    """30 s after the first failed attempt, doubling each time, never more than an hour."""
    doublings = min(max(0, attempts - 1), 16)  # retried forever: keep the power small
    return min(RETRY_MOST, RETRY_FIRST * 2**doublings)


def _record_failure(
    session: Session, rows: list[Outbox], problem: BaseException, moment: dt.datetime
) -> None:
    message = f"{type(problem).__name__}: {problem}"[:2000]
    for row in rows:
        session.execute(
            update(Outbox)
            .where(Outbox.id == row.id, Outbox.sent_at.is_(None))
            .values(
                last_error=message,
                claimed_by=None,
                claimed_until=None,
                deliver_after=moment + retry_delay(row.attempts),
            )
            .execution_options(synchronize_session=False)
        )
    session.commit()
    logger.warning(
        "notice(s) %s to %s not sent, will retry: %s", [row.id for row in rows], rows[0].recipient, message
    )


def waiting_count(session: Session) -> int:
    """Notices not yet sent (due, held for a digest, or waiting for a retry)."""
    return session.scalar(select(func.count()).select_from(Outbox).where(Outbox.sent_at.is_(None))) or 0


def _account_link(settings: Settings) -> str:
    return f"{settings.public_url.rstrip('/')}/account" if settings.public_url else "/account"


def deliver_pending(
    session_factory: sessionmaker[Session],
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    limit: int = 200,
    worker: str | None = None,
    keep_going: Callable[[], bool] | None = None,
) -> DeliveryReport:
    """One delivery pass: send up to ``limit`` due single notices, then the due digests (up
    to ``limit`` addresses), and return what happened.

    Each notice is claimed before it is sent and marked sent only after the SMTP server
    accepted it. A refusal of one message is recorded on it (retried later) and the pass
    goes on; a lost or refused connection is recorded on the notice being sent and ends the
    pass (``report.error``). Nothing is claimed when the server cannot be reached at the
    start. Without ``settings.smtp_url`` nothing is sent (``report.skipped``). ``now``
    fixes the clock (tests); ``keep_going`` is asked before each e-mail (the sender renews
    its lease there, and stops when told to)."""
    report = DeliveryReport()
    with session_factory() as session:
        if settings.smtp_url is None:
            report.skipped = "MATCHER_SMTP_URL is not set, so notices wait in the outbox"
            report.waiting = waiting_count(session)
            return report
        target = SmtpTarget.parse(settings.smtp_url.get_secret_value())
        worker = worker or worker_name()
        hold = dt.timedelta(seconds=settings.notify_lease_seconds)

        def clock() -> dt.datetime:
            return now or utcnow()

        singles = _due_singles(session, clock(), limit)
        recipients = _due_digest_recipients(session, clock(), settings.digest_hour, limit)
        mailer = Mailer(target, settings.smtp_timeout_seconds)
        try:
            if singles or recipients:
                try:
                    mailer.open()
                except (OSError, ValueError) as problem:  # smtplib errors are OSErrors
                    report.error = f"cannot reach the SMTP server at {target.masked()}: {problem}"
                    logger.warning("%s", report.error)
                    singles, recipients = [], []
            for notice_id in singles:
                if keep_going is not None and not keep_going():
                    break
                if not _send_single(session, mailer, settings, notice_id, worker, clock, hold, report):
                    break
            else:
                for recipient in recipients:
                    if keep_going is not None and not keep_going():
                        break
                    if not _send_digest(session, mailer, settings, recipient, worker, clock, hold, report):
                        break
        finally:
            mailer.close()
        report.waiting = waiting_count(session)
    return report


def _send_single(
    session: Session,
    mailer: Mailer,
    settings: Settings,
    notice_id: int,
    worker: str,
    clock: Callable[[], dt.datetime],
    hold: dt.timedelta,
    report: DeliveryReport,
) -> bool:
    """Claim, send and mark one notice; False when the connection failed (end the pass)."""
    claimed = _claim(session, [notice_id], worker, clock(), hold)
    if not claimed:
        return True
    row = claimed[0]
    message = build_message(
        sender=settings.mail_from,
        recipient=row.recipient,
        subject=row.subject,
        body=f"{row.body}\n\n{texts.footer(row.language, _account_link(settings))}\n",
        message_id=row.message_id,
        when=clock(),
    )
    return _send(session, mailer, settings, message, claimed, clock, report, digest=False)


def _send_digest(
    session: Session,
    mailer: Mailer,
    settings: Settings,
    recipient: str,
    worker: str,
    clock: Callable[[], dt.datetime],
    hold: dt.timedelta,
    report: DeliveryReport,
) -> bool:
    """Claim every due digest notice of ``recipient`` and send them as one e-mail."""
    ids = _due_digest_ids(session, clock(), settings.digest_hour, recipient)
    claimed = _claim(session, ids, worker, clock(), hold)
    if not claimed:
        return True
    # A digest sent again (its sender died after the server took it) keeps its Message-ID.
    message_id = next((row.digest_message_id for row in claimed if row.digest_message_id), None)
    if message_id is None:
        message_id = new_message_id("digest", message_id_domain(settings.mail_from))
    session.execute(
        update(Outbox)
        .where(Outbox.id.in_([row.id for row in claimed]))
        .values(digest_message_id=message_id)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    languages = {row.language for row in claimed}
    language = languages.pop() if len(languages) == 1 else "en"
    subject, body = texts.digest_text(language, [(row.subject, row.body) for row in claimed])
    message = build_message(
        sender=settings.mail_from,
        recipient=recipient,
        subject=subject,
        body=f"{body}\n\n{texts.footer(language, _account_link(settings))}\n",
        message_id=message_id,
        when=clock(),
    )
    return _send(session, mailer, settings, message, claimed, clock, report, digest=True)


def _send(
    session: Session,
    mailer: Mailer,
    settings: Settings,
    message: Any,
    rows: list[Outbox],
    clock: Callable[[], dt.datetime],
    report: DeliveryReport,
    *,
    digest: bool,
) -> bool:
    try:
        mailer.send(message, sender=envelope_sender(settings.mail_from), recipient=rows[0].recipient)
    except MESSAGE_ERRORS as problem:
        report.failed += 1
        _record_failure(session, rows, problem, clock())
        return True
    except OSError as problem:  # the connection: lost, refused or timed out
        report.failed += 1
        report.error = (
            f"the SMTP server at {mailer.target.masked()} failed: {type(problem).__name__}: {problem}"
        )
        _record_failure(session, rows, problem, clock())
        return False
    # The server has the message. Should this process die before the next line commits,
    # the claim runs out and the notice is sent again with the same Message-ID.
    report.sent += _mark_sent(session, [row.id for row in rows], clock())
    report.digests += int(digest)
    return True


# --------------------------------------------------------------------------- the sender


class NotificationSender:
    """Delivers the outbox from this process while it holds the lease ``notifications``.

    ``run_once`` is one pass (or none when another process holds the lease); ``drain``
    repeats passes until nothing due is left (``matcher notify run --once``); ``start`` runs
    passes every ``MATCHER_NOTIFY_POLL_SECONDS`` in a background thread (``matcher serve``)
    until ``stop``, which lets the e-mail in flight finish (bounded by the SMTP timeout) and
    gives the lease back. The lease lasts ``MATCHER_NOTIFY_LEASE_SECONDS`` and is renewed
    before each e-mail once a third of it has passed, so a sender that dies is replaced
    within that time.
    """

    def __init__(
        self, session_factory: sessionmaker[Session], settings: Settings, *, name: str | None = None
    ):
        if settings.smtp_url is not None:
            SmtpTarget.parse(settings.smtp_url.get_secret_value())  # refuse a malformed URL at start
        if settings.notify_lease_seconds < 2 * settings.smtp_timeout_seconds:
            # A claim that runs out during a slow send lets another sender send the notice too.
            logger.warning(
                "MATCHER_NOTIFY_LEASE_SECONDS (%g) is under twice MATCHER_SMTP_TIMEOUT_SECONDS (%g): "
                "a notice stuck in a slow send may be sent twice",
                settings.notify_lease_seconds,
                settings.smtp_timeout_seconds,
            )
        self.sessions = session_factory
        self.settings = settings
        self.name = name or worker_name()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._renewed_at = 0.0
        self._ttl = dt.timedelta(seconds=settings.notify_lease_seconds)

    def _take_lease(self) -> bool:
        with self.sessions() as session:
            held = try_acquire(session, LEASE, self.name, self._ttl)
        if held:
            self._renewed_at = time.monotonic()
        return held

    def _keep_going(self) -> bool:
        if self._stopping.is_set():
            return False
        if time.monotonic() - self._renewed_at < self._ttl.total_seconds() / 3:
            return True
        if self._take_lease():
            return True
        logger.warning("lost the notifications lease; stopping this pass")
        return False

    def holder(self) -> str | None:
        """Who holds the lease now (None when nobody's is valid)."""
        with self.sessions() as session:
            lease = session.get(WorkerLease, LEASE)
            return lease.holder if lease is not None and lease.expires_at > utcnow() else None

    def run_once(self, *, now: dt.datetime | None = None) -> DeliveryReport:
        if self.settings.smtp_url is None:
            return deliver_pending(self.sessions, self.settings, now=now)
        if not self._take_lease():
            with self.sessions() as session:
                waiting = waiting_count(session)
            return DeliveryReport(
                waiting=waiting, skipped=f"another sender holds the lease ({self.holder()})"
            )
        return deliver_pending(
            self.sessions, self.settings, now=now, worker=self.name, keep_going=self._keep_going
        )

    def drain(self, *, now: dt.datetime | None = None) -> DeliveryReport:
        """Passes until no due notice is left, the server fails or the lease is elsewhere;
        then give the lease back."""
        total = DeliveryReport()
        try:
            while True:
                report = self.run_once(now=now)
                total.add(report)
                if report.skipped or report.error or report.sent + report.failed == 0:
                    return total
        finally:
            self.release()

    def release(self) -> None:
        with self.sessions() as session:
            release(session, LEASE, self.name)

    def run_until_stopped(self, on_report: Callable[[DeliveryReport], None] | None = None) -> None:
        """Pass, wait the poll interval, again, until ``stop``; then give the lease back."""
        last_problem: str | None = None
        try:
            while not self._stopping.is_set():
                try:
                    report = self.run_once()
                except Exception:  # the database may be briefly away: log, wait, try again
                    logger.exception("notification pass failed")
                    report = None
                if report is not None:
                    problem = report.error
                    if problem and problem != last_problem:
                        logger.warning("notifications: %s", problem)
                    last_problem = problem
                    if on_report is not None and (report.sent or report.failed):
                        on_report(report)
                self._stopping.wait(self.settings.notify_poll_seconds)
        finally:
            try:
                self.release()
            except Exception:
                logger.exception("could not give back the notifications lease (it will run out)")

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self.run_until_stopped, name="notification-sender", daemon=True
        )
        self._thread.start()
        logger.info(
            "notification sender %s started (SMTP %s, every %.0f s)",
            self.name,
            SmtpTarget.parse(self.settings.smtp_url.get_secret_value()).masked()
            if self.settings.smtp_url
            else "-",
            self.settings.notify_poll_seconds,
        )

    def stop(self, timeout: float | None = None) -> None:
        """Ask the loop to stop and wait for it (at most ``timeout`` seconds; default the
        SMTP timeout plus a few seconds)."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(self.settings.smtp_timeout_seconds + 5 if timeout is None else timeout)
            if thread.is_alive():
                logger.warning("the notification sender did not stop in time; its lease will run out")
