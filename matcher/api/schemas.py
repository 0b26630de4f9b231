"""Request and response bodies of the HTTP API.

Codes are ``Literal`` types built from the taxonomy, so an unknown code is a 422 that lists
the allowed values, and OpenAPI shows them as enums. Unknown fields in a request body are
refused (a misspelt field should not be silently dropped). Request bodies take strict JSON
types: a number is a JSON number (never "100"), a flag is true or false (never "yes"), a
date is ISO text (never a number); text refuses control characters other than tab, line
feed and carriage return; money is finite. A field that cannot be null may be left out
but not sent as null (OpenAPI shows which may be null).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from matcher.addresses import EmailAddress
from matcher.taxonomy import NEED_STATUSES, PARTY_STATUSES, PROVIDER_KINDS, UN_LANGUAGES, load_taxonomy
from matcher.validation import (
    MAX_INT32,
    IsoDate,
    StrictCount,
    StrictMoney,
    WebUrl,
    refuse_control_characters,
)

_TAXONOMY = load_taxonomy()
# Literal[...] built from data: type checkers cannot follow it, so these are typed as Any.
SectorCode: Any = Literal.__getitem__(_TAXONOMY.allowed("sectors"))
AssistanceType: Any = Literal.__getitem__(_TAXONOMY.allowed("assistance_types"))
RegionCode: Any = Literal.__getitem__(_TAXONOMY.allowed("regions"))
LanguageCode: Any = Literal.__getitem__(UN_LANGUAGES)
PartyStatus: Any = Literal.__getitem__(PARTY_STATUSES)
ProviderKind: Any = Literal.__getitem__(PROVIDER_KINDS)
NeedStatus: Any = Literal.__getitem__(NEED_STATUSES)

Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(refuse_control_characters),
]
Description = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000),
    AfterValidator(refuse_control_characters),
]
# An organisation's display name: its column holds 300 characters.
ProviderName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    AfterValidator(refuse_control_characters),
]
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    AfterValidator(refuse_control_characters),
]
Label = Annotated[str, StringConstraints(max_length=200), AfterValidator(refuse_control_characters)]
ISO3_PATTERN = r"^[A-Za-z]{3}$"
PROVIDER_ID_PATTERN = r"^[a-z0-9][a-z0-9._:-]{0,99}$"
Iso3 = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=ISO3_PATTERN)]
ProviderId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=PROVIDER_ID_PATTERN)]


def _not_nullable(schema: dict[str, Any]) -> None:
    """OpenAPI for a field that may be left out but not sent as null: no ``default: null``."""
    schema.pop("default", None)


def omittable(**kwargs: Any) -> Any:
    """A field that may be left out (then it is not changed, or takes its default) but is
    refused as an explicit null: its type has no ``None``, and the unvalidated default is
    never seen, since routes read ``model_dump(exclude_unset=True)``."""
    return Field(None, json_schema_extra=_not_nullable, **kwargs)


class Strict(BaseModel):
    """A request body: unknown fields refused, strict JSON types (dates still as ISO text)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


FRENCH_NEED_EXAMPLE: dict[str, Any] = {
    "title": "Gestion des déchets contenant du mercure",
    "description": (
        "Nos hôpitaux remplacent les thermomètres au mercure, mais nous n'avons ni stockage "
        "provisoire sûr ni filière d'élimination écologiquement rationnelle pour les déchets."
    ),
    "sectors": ["waste", "health"],
    "assistance_types": ["technical-assistance"],
    "budget_usd": 150000,
}


class NeedCreate(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [FRENCH_NEED_EXAMPLE]})

    party: Iso3 | None = Field(
        None, description="Required for secretariat and admin keys; a party key sets it."
    )
    title: Title
    description: Description
    language: LanguageCode | None = Field(None, description="Detected from the text when absent.")
    sectors: list[SectorCode] = Field(default_factory=list)
    assistance_types: list[AssistanceType] = Field(default_factory=list)
    budget_usd: StrictMoney | None = None
    deadline: IsoDate | None = Field(
        None, description="Today or later (UTC; yesterday is allowed for time zones)."
    )
    confidential: bool = False


class NeedPatch(Strict):
    """Only the fields sent are changed; ``language: null`` asks for detection again, and
    ``budget_usd`` and ``deadline`` may be cleared with null. Other fields cannot be null."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"budget_usd": 200000, "sectors": ["waste"]}]})

    title: Title = omittable()
    description: Description = omittable()
    language: LanguageCode | None = None
    sectors: list[SectorCode] = omittable()
    assistance_types: list[AssistanceType] = omittable()
    budget_usd: StrictMoney | None = None
    deadline: IsoDate | None = Field(None, description="Today or later when changed.")
    confidential: bool = omittable()


class Inferred(BaseModel):
    sectors: list[str]
    assistance_types: list[str]


class Coaching(BaseModel):
    vague: bool
    reasons: list[str]
    missing: list[dict[str, Any]] = Field(
        description="Specifics to add: sectors and assistance types (with options labelled in the "
        "need's language), details, budget_usd."
    )
    message: str | None = Field(description="Advice in the need's language; null when the need is specific.")
    language: str


class NeedOut(BaseModel):
    id: str
    party: str
    title: str
    description: str
    language: str | None
    sectors: list[str]
    assistance_types: list[str]
    inferred: Inferred
    budget_usd: float | None
    deadline: dt.date | None
    confidential: bool
    status: str
    withdraw_reason: str | None = Field(
        None, description="Why the need was withdrawn, when a reason was given."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    coaching: Coaching


class PageFields(BaseModel):
    total: int
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last page.")


class NeedPage(PageFields):
    items: list[NeedOut]


class OfferingFields(Strict):
    """The offering's own fields; those with ``None`` in their type may be sent as null."""

    provider: ProviderName = omittable()
    provider_kind: ProviderKind | None = None
    title: Title = omittable()
    description: Description = omittable()
    sectors: list[SectorCode] = omittable()
    assistance_types: list[AssistanceType] = omittable()
    regions: list[RegionCode] = omittable()
    eligible_status: list[PartyStatus] = omittable()
    countries: list[Iso3] = omittable()
    languages: list[LanguageCode] = omittable()
    funding_min_usd: StrictMoney | None = None
    funding_max_usd: StrictMoney | None = None
    url: WebUrl | None = Field(None, description="An http:// or https:// address.")
    verified: bool = omittable()
    active: bool = omittable()
    opens: IsoDate | None = None
    closes: IsoDate | None = None
    capacity: StrictCount | None = None
    contact: (
        Annotated[str, StringConstraints(max_length=300), AfterValidator(refuse_control_characters)] | None
    ) = Field(
        None, description="Who a Party writes to (name, e-mail or office), shown once a proposal is accepted."
    )
    how_to_apply: (
        Annotated[str, StringConstraints(max_length=4000), AfterValidator(refuse_control_characters)] | None
    ) = Field(
        None,
        description="How a Party applies, shown with the application window once a proposal is accepted.",
    )
    provider_email: EmailAddress | None = Field(
        None,
        description="Where the provider's notices go. Kept on the provider, so it is shared by all its "
        "offerings; null clears it.",
    )


class OfferingCreate(OfferingFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "provider": "Example Regional Centre",
                    "title": "Training on mercury waste inventories",
                    "description": "Two-week courses for customs and environment officers on mercury waste.",
                    "sectors": ["waste"],
                    "assistance_types": ["training"],
                    "regions": ["africa"],
                    "languages": ["en", "fr"],
                }
            ]
        }
    )

    provider_id: ProviderId | None = Field(
        None, description="Required for secretariat keys; a provider key sets it."
    )
    provider: ProviderName
    title: Title
    description: Description


class OfferingPatch(OfferingFields):
    model_config = ConfigDict(json_schema_extra={"examples": [{"active": False}]})


class OfferingOut(BaseModel):
    id: str
    provider_id: str
    provider: str
    provider_kind: str | None
    title: str
    description: str
    sectors: list[str]
    assistance_types: list[str]
    regions: list[str]
    eligible_status: list[str]
    countries: list[str]
    languages: list[str]
    funding_min_usd: float | None
    funding_max_usd: float | None
    url: str | None
    verified: bool
    active: bool
    opens: dt.date | None
    closes: dt.date | None
    capacity: int | None
    contact: str | None
    how_to_apply: str | None
    provider_email: str | None
    parent: str | None = Field(
        None, description="The umbrella entry this programme or area belongs to (set by catalogue imports)."
    )
    created_at: dt.datetime
    updated_at: dt.datetime


class TrackRecordNeed(BaseModel):
    need_id: str
    title: str | None = Field(None, description="Left out for a provider when the need is confidential.")
    party: str
    country: str
    sectors: list[str]
    year: int | None
    state: str = Field(description="accepted or introduced")
    imported: bool = Field(
        description="From an imported history file rather than a decision in the workbench."
    )


class TrackRecordOut(BaseModel):
    offering_id: str
    served: int = Field(description="Past needs the offering served (accepted, introduced or imported).")
    countries: dict[str, int]
    sectors: dict[str, int]
    declined: dict[str, int] = Field(description="Proposals turned down, by reason kind.")
    needs: list[TrackRecordNeed]


class OfferingPage(PageFields):
    items: list[OfferingOut]


class MatchResult(BaseModel):
    offering_id: str | None = None
    need_id: str | None = None
    offering: dict[str, Any] | None = Field(None, description="Title and provider, for reading the list.")
    need: dict[str, Any] | None = Field(None, description="Title, Party and language, for reading the list.")
    score: float = Field(description="Higher is better; the engine's own scale.")
    explanation: dict[str, Any] | None
    state: str | None = Field(None, description="For a Party: the proposal's state (accepted, introduced).")
    reason: dict[str, Any] | None = Field(
        None, description="Donor view: the codes both sides share and the strongest parts of the score."
    )


class MatchesOut(BaseModel):
    need_id: str | None = None
    offering_id: str | None = None
    vague: bool | None = None
    coaching: Coaching | None = None
    engine_version: str | None = None
    model_version: str | None = None
    candidates: int | None = None
    removed: dict[str, int] | None = Field(None, description="Offerings each eligibility constraint removed.")
    min_score: float | None = Field(None, description="Donor view: the cut-off applied.")
    total: int | None = Field(None, description="Donor view: open needs above the cut-off, in all pages.")
    offset: int | None = Field(None, description="Donor view: results skipped before this page.")
    next_offset: int | None = Field(None, description="Donor view: the offset of the next page (none: last).")
    results: list[MatchResult]


class PartyOut(BaseModel):
    iso3: str
    name_en: str
    name_fr: str | None
    name_es: str | None
    un_region: str
    status: str
    ldc: bool
    sids: bool


class PartyPage(PageFields):
    items: list[PartyOut]


class KeyCreate(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "role": "party",
                    "party": "SEN",
                    "label": "Senegal focal point",
                    "email": "focal.point@environnement.gouv.sn",
                }
            ]
        }
    )

    role: Literal["party", "provider", "secretariat", "admin"]
    party: Iso3 | None = None
    provider: ProviderId | None = None
    label: Label | None = None
    email: EmailAddress | None = Field(None, description="The key holder's address for notices.")


class KeyOut(BaseModel):
    id: str
    role: str
    party: str | None
    provider: str | None
    label: str | None
    email: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class NewKeyOut(KeyOut):
    key: str = Field(description="The secret, shown this once only.")


class KeyList(BaseModel):
    items: list[KeyOut]


class ErrorDetail(BaseModel):
    loc: str = Field(description="Where: the JSON path of the field (body.sectors[0]) or the parameter.")
    message: str


class ErrorBody(BaseModel):
    status: int
    code: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)
    request_id: str | None = Field(
        None, description="On an unexpected failure (500): the id under which it was logged."
    )


class ErrorOut(BaseModel):
    """The one error shape of every route."""

    error: ErrorBody


class RunCreate(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"region": "africa", "sector": "asgm", "k": 10}]}
    )

    region: RegionCode | None = None
    sector: SectorCode | None = None
    language: LanguageCode | None = None
    party: Iso3 | None = None
    k: int = Field(10, ge=1, le=100, description="Proposals per need.")  # strict: a JSON integer


class RunOut(BaseModel):
    needs: int = Field(description="Open needs ranked in this run.")
    added: int
    kept: int = Field(
        description="Decided proposals left as they were, and undecided ones still in the top k."
    )
    dropped: int = Field(description="Undecided proposals that fell out of the top k.")
    summary: str


class ProposalNeed(BaseModel):
    id: str
    party: str
    title: str
    description: str | None = Field(description="Left out for providers when the need is confidential.")
    language: str | None
    confidential: bool


class ProposalOffering(BaseModel):
    id: str
    title: str
    provider_id: str
    provider: str


class EligibilityMet(BaseModel):
    rule: str = Field(description="region, country or status")
    value: str


class ProposalProgramme(BaseModel):
    """What a Party or provider acts on once a proposal is accepted."""

    description: str
    provider: str
    provider_kind: str | None
    url: str | None
    contact: str | None
    how_to_apply: str | None
    opens: dt.date | None
    closes: dt.date | None
    languages: list[str]
    funding_min_usd: float | None
    funding_max_usd: float | None
    eligibility_met: list[EligibilityMet]


class NextStep(BaseModel):
    code: str
    text: str


class OutcomeOut(BaseModel):
    outcome: str
    amount: float | None
    currency: str | None
    note: str | None
    recorded_at: dt.datetime | None


class ProposalOut(BaseModel):
    id: int
    state: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    introduced_at: dt.datetime | None
    need: ProposalNeed
    offering: ProposalOffering
    outcome: OutcomeOut | None = None
    score: float | None = Field(None, description="Secretariat and admin only (the engine's scale).")
    rank: int | None = Field(None, description="Secretariat and admin only.")
    engine_version: str | None = Field(None, description="Secretariat and admin only.")
    model_version: str | None = Field(
        None, description="Secretariat and admin only: the learned re-ranker that ordered it, or hand-set."
    )
    explanation: dict[str, Any] | None = Field(None, description="Secretariat and admin only.")
    reject_reason: str | None = Field(None, description="Secretariat and admin only.")
    reviewer: str | None = Field(None, description="Secretariat and admin only.")
    close_reason: str | None = Field(None, description="Secretariat and admin only.")
    closed_at: dt.datetime | None = Field(None, description="Secretariat and admin only.")
    programme: ProposalProgramme | None = Field(
        None, description="The Party and the provider: what to act on."
    )
    next_step: NextStep | None = Field(None, description="The Party and the provider: what to do next.")


class ProposalPage(PageFields):
    items: list[ProposalOut]


class WithdrawBody(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "The ministry found national funding."}]}
    )

    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class OutcomeBody(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"outcome": "funded", "amount": 250000, "currency": "USD"}]}
    )

    outcome: Literal["agreed", "funded", "declined", "no-response"]
    amount: Annotated[float, Field(ge=0)] | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")] | None = Field(
        None, description="ISO 4217 code, with `amount`."
    )
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = Field(
        None, description="Required for `declined`: the reason."
    )


class ClosedOut(BaseModel):
    need_id: str
    closed: int = Field(description="How many undecided proposals were closed.")


class InterestOut(BaseModel):
    need_id: str
    offering_id: str
    note: str | None
    created_at: dt.datetime | None


class InterestList(BaseModel):
    items: list[InterestOut]


class VerificationRejectBody(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "No trace of this programme at the source given."}]}
    )

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class InterestBody(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"need_id": "need-1a2b3c4d5e6f", "note": "We fund this."}]}
    )

    need_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class RejectBody(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "The programme closed its call for 2027."}]}
    )

    reason: Reason


class AuditOut(BaseModel):
    id: int
    occurred_at: dt.datetime
    actor: str
    actor_role: str | None
    action: str
    entity_type: str
    entity_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(PageFields):
    items: list[AuditOut]


class BulkRejectBody(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"proposals": [12, 15, 19], "reason": "The programme closed its call for 2027."}]
        }
    )

    proposals: list[Annotated[int, Field(ge=1, le=MAX_INT32)]] = Field(
        min_length=1, max_length=200, description="Ids of proposed proposals."
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class BulkRejectOut(BaseModel):
    rejected: list[int] = Field(description="The proposals rejected, in the order they were audited.")
    count: int


class ActorOut(BaseModel):
    actor: str = Field(description="As the audit trail names it, e.g. `key:k1234abcd5678`.")
    key_id: str | None
    label: str | None = Field(description="The key's label (`matcher keys create --label`).")
    role: str | None


class AssignBody(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"officer": "k1234abcd5678"}]})

    officer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)] | None = (
        Field(description="A secretariat or admin key id; null unassigns the case.")
    )


class AssignmentOut(BaseModel):
    need_id: str
    officer: ActorOut | None
    assigned_at: dt.datetime | None


class NoteBody(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"text": "Called the focal point: budget confirmed for 2027."}]}
    )

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class NoteOut(BaseModel):
    id: int
    need_id: str
    author: ActorOut
    text: str
    created_at: dt.datetime


class NoteList(BaseModel):
    items: list[NoteOut]
