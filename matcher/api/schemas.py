"""Request and response bodies of the HTTP API.

Codes are ``Literal`` types built from the taxonomy, so an unknown code is a 422 that lists
the allowed values, and OpenAPI shows them as enums. Unknown fields in a request body are
refused (a misspelt field should not be silently dropped).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from matcher.addresses import EmailAddress
from matcher.taxonomy import NEED_STATUSES, PARTY_STATUSES, PROVIDER_KINDS, UN_LANGUAGES, load_taxonomy

_TAXONOMY = load_taxonomy()
# Literal[...] built from data: type checkers cannot follow it, so these are typed as Any.
SectorCode: Any = Literal.__getitem__(_TAXONOMY.allowed("sectors"))
AssistanceType: Any = Literal.__getitem__(_TAXONOMY.allowed("assistance_types"))
RegionCode: Any = Literal.__getitem__(_TAXONOMY.allowed("regions"))
LanguageCode: Any = Literal.__getitem__(UN_LANGUAGES)
PartyStatus: Any = Literal.__getitem__(PARTY_STATUSES)
ProviderKind: Any = Literal.__getitem__(PROVIDER_KINDS)
NeedStatus: Any = Literal.__getitem__(NEED_STATUSES)

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
Iso3 = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{3}$")]
ProviderId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9._:-]{0,99}$")]
Money = Annotated[float, Field(ge=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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
    budget_usd: Money | None = None
    deadline: dt.date | None = None
    confidential: bool = False


class NeedPatch(Strict):
    """Only the fields sent are changed; ``language: null`` asks for detection again."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"budget_usd": 200000, "sectors": ["waste"]}]})

    title: Title | None = None
    description: Description | None = None
    language: LanguageCode | None = None
    sectors: list[SectorCode] | None = None
    assistance_types: list[AssistanceType] | None = None
    budget_usd: Money | None = None
    deadline: dt.date | None = None
    confidential: bool | None = None


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
    provider: Title | None = None
    provider_kind: ProviderKind | None = None
    title: Title | None = None
    description: Description | None = None
    sectors: list[SectorCode] | None = None
    assistance_types: list[AssistanceType] | None = None
    regions: list[RegionCode] | None = None
    eligible_status: list[PartyStatus] | None = None
    countries: list[Iso3] | None = None
    languages: list[LanguageCode] | None = None
    funding_min_usd: Money | None = None
    funding_max_usd: Money | None = None
    url: Annotated[str, StringConstraints(max_length=1000)] | None = None
    verified: bool | None = None
    active: bool | None = None
    opens: dt.date | None = None
    closes: dt.date | None = None
    capacity: Annotated[int, Field(ge=0)] | None = None
    contact: Annotated[str, StringConstraints(max_length=300)] | None = Field(
        None, description="Who a Party writes to (name, e-mail or office), shown once a proposal is accepted."
    )
    how_to_apply: Annotated[str, StringConstraints(max_length=4000)] | None = Field(
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
    provider: Title
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
    created_at: dt.datetime
    updated_at: dt.datetime


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
    label: Annotated[str, StringConstraints(max_length=200)] | None = None
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
    k: int = Field(10, ge=1, le=100, description="Proposals per need.")


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

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


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
