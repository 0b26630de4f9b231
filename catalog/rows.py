"""Row schemas of the interchange format (parties, offerings, needs).

One pydantic model per kind validates a row read from JSON Lines or CSV. Codes are
checked against the taxonomy and the enumerations of the domain README; text refuses
control characters other than tab, line feed and carriage return, money must be finite,
a capacity must fit a database integer and a URL must be http(s) (``matcher.validation``,
the API's own types); checks that need other rows (duplicate ids, unknown parties) live
in ``catalog.loaders``. Past deadlines are kept: an import records history as it was.
The same models serve the export, so export → import is lossless.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from matcher.addresses import EmailAddress
from matcher.taxonomy import NEED_STATUSES, PARTY_STATUSES, PROVIDER_KINDS, load_taxonomy
from matcher.validation import CleanText, Count, Money, WebUrl, refuse_control_characters

Kind = Literal["parties", "offerings", "needs"]
KINDS: tuple[Kind, ...] = ("parties", "offerings", "needs")

Identifier = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$"
    ),
]
NonEmptyText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(refuse_control_characters)
]
# Text held in a column of limited length (PostgreSQL refuses a longer value).
Title = Annotated[NonEmptyText, StringConstraints(max_length=500)]
OrganisationName = Annotated[NonEmptyText, StringConstraints(max_length=300)]
PartyName = Annotated[NonEmptyText, StringConstraints(max_length=200)]
ProviderIdentifier = Annotated[Identifier, StringConstraints(max_length=100)]
Iso3 = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{3}$")]
LanguageCode = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z]{2}$")]


def _check_codes(values: list[str], allowed: tuple[str, ...], what: str) -> list[str]:
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")
    return _unique(values)


def _unique(values: list[str]) -> list[str]:
    """Drop repeats, keep first-seen order (the order a Party gave is kept)."""
    return list(dict.fromkeys(values))


def _none_to_empty(value: Any) -> Any:
    return [] if value is None else value


class InterchangeRow(BaseModel):
    """Shared behaviour: unknown fields are ignored (the loader warns once)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    list_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(cls.model_fields)

    def to_record(self) -> dict[str, Any]:
        """The row as the interchange format writes it (JSON-ready values)."""
        record = self.model_dump(mode="json")
        for key, value in record.items():
            if isinstance(value, float) and value.is_integer():
                record[key] = int(value)
        return record


class PartyRow(InterchangeRow):
    iso3: Iso3
    name_en: PartyName
    name_fr: Annotated[CleanText, StringConstraints(max_length=200)] | None = None
    name_es: Annotated[CleanText, StringConstraints(max_length=200)] | None = None
    un_region: str
    status: str
    ldc: bool = False
    sids: bool = False
    email: EmailAddress | None = None

    @field_validator("un_region")
    @classmethod
    def _region_known(cls, value: str) -> str:
        return _check_codes([value], load_taxonomy().allowed("regions"), "region code")[0]

    @field_validator("status")
    @classmethod
    def _status_known(cls, value: str) -> str:
        return _check_codes([value], PARTY_STATUSES, "status")[0]


class OfferingRow(InterchangeRow):
    list_fields: ClassVar[tuple[str, ...]] = (
        "sectors",
        "assistance_types",
        "regions",
        "eligible_status",
        "countries",
        "languages",
    )

    id: Identifier
    provider: OrganisationName
    provider_id: ProviderIdentifier | None = None
    provider_kind: str | None = None
    title: Title
    description: NonEmptyText
    sectors: list[str] = Field(default_factory=list)
    assistance_types: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    eligible_status: list[str] = Field(default_factory=list)
    countries: list[Iso3] = Field(default_factory=list)
    languages: list[LanguageCode] = Field(default_factory=list)
    funding_min_usd: Money | None = None
    funding_max_usd: Money | None = None
    url: WebUrl | None = None
    verified: bool = True
    active: bool = True
    opens: dt.date | None = None
    closes: dt.date | None = None
    capacity: Count | None = None
    contact: Annotated[CleanText, StringConstraints(max_length=300)] | None = None
    how_to_apply: Annotated[CleanText, StringConstraints(max_length=4000)] | None = None
    # Kept on the provider: the last non-empty value of an import wins, an empty one changes nothing.
    provider_email: EmailAddress | None = None
    # The umbrella entry this programme or area belongs to (another offering's id; one level).
    parent: Identifier | None = None

    _null_lists = field_validator(*list_fields, mode="before")(_none_to_empty)

    @field_validator("provider_kind")
    @classmethod
    def _kind_known(cls, value: str | None) -> str | None:
        return None if value is None else _check_codes([value], PROVIDER_KINDS, "provider kind")[0]

    @field_validator("sectors")
    @classmethod
    def _sectors_known(cls, value: list[str]) -> list[str]:
        return _check_codes(value, load_taxonomy().allowed("sectors"), "sector code")

    @field_validator("assistance_types")
    @classmethod
    def _types_known(cls, value: list[str]) -> list[str]:
        return _check_codes(value, load_taxonomy().allowed("assistance_types"), "assistance type code")

    @field_validator("regions")
    @classmethod
    def _regions_known(cls, value: list[str]) -> list[str]:
        return _check_codes(value, load_taxonomy().allowed("regions"), "region code")

    @field_validator("eligible_status")
    @classmethod
    def _statuses_known(cls, value: list[str]) -> list[str]:
        return _check_codes(value, PARTY_STATUSES, "status")

    @field_validator("countries", "languages")
    @classmethod
    def _dedupe(cls, value: list[str]) -> list[str]:
        return _unique(value)

    @model_validator(mode="after")
    def _ranges_ordered(self) -> OfferingRow:
        if (
            self.funding_min_usd is not None
            and self.funding_max_usd is not None
            and self.funding_min_usd > self.funding_max_usd
        ):
            raise ValueError("funding_min_usd is greater than funding_max_usd")
        if self.opens and self.closes and self.opens > self.closes:
            raise ValueError("opens is after closes")
        if self.parent is not None and self.parent == self.id:
            raise ValueError("parent names the offering itself")
        if self.provider_id is None:
            self.provider_id = slugify(self.provider)
        return self


class NeedRow(InterchangeRow):
    list_fields: ClassVar[tuple[str, ...]] = ("sectors", "assistance_types")

    id: Identifier
    party: Iso3
    title: Title
    description: NonEmptyText
    language: str | None = None
    sectors: list[str] = Field(default_factory=list)
    assistance_types: list[str] = Field(default_factory=list)
    budget_usd: Money | None = None
    deadline: dt.date | None = None
    confidential: bool = False
    status: str = "submitted"

    _null_lists = field_validator(*list_fields, mode="before")(_none_to_empty)

    @field_validator("language")
    @classmethod
    def _language_known(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return _check_codes([value.lower()], load_taxonomy().allowed("languages"), "language code")[0]

    @field_validator("sectors")
    @classmethod
    def _sectors_known(cls, value: list[str]) -> list[str]:
        return _check_codes(value, load_taxonomy().allowed("sectors"), "sector code")

    @field_validator("assistance_types")
    @classmethod
    def _types_known(cls, value: list[str]) -> list[str]:
        return _check_codes(value, load_taxonomy().allowed("assistance_types"), "assistance type code")

    @field_validator("status")
    @classmethod
    def _status_known(cls, value: str) -> str:
        return _check_codes([value], NEED_STATUSES, "need status")[0]


class DeclinedRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    offering_id: Identifier
    reason: str | None = None


class HistoryRow(NeedRow):
    """A past assistance record (``matcher history load``): a past need in the interchange
    format for needs, plus ``served_by`` (ids of the offerings that delivered; may be empty: a
    past request no one served), optional ``declined`` (offerings proposed and turned down,
    each with the reason) and optional ``year`` (when the help was given)."""

    served_by: list[Identifier] = Field(default_factory=list)
    declined: list[DeclinedRow] = Field(default_factory=list)
    year: Annotated[int, Field(ge=1900, le=2200)] | None = None

    @field_validator("served_by", mode="before")
    @classmethod
    def _null_served(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("declined", mode="before")
    @classmethod
    def _null_declined(cls, value: Any) -> Any:
        return [] if value is None else value

    @model_validator(mode="after")
    def _served_or_declined(self) -> HistoryRow:
        self.served_by = list(dict.fromkeys(self.served_by))
        seen: set[str] = set()
        unique = []
        for item in self.declined:
            if item.offering_id not in seen:
                seen.add(item.offering_id)
                unique.append(item)
        self.declined = unique
        both = sorted(seen & set(self.served_by))
        if both:
            raise ValueError(f"offering(s) both served and declined: {', '.join(both)}")
        return self

    def offering_ids(self) -> list[str]:
        return [*self.served_by, *(item.offering_id for item in self.declined)]


ROW_MODELS: dict[Kind, type[InterchangeRow]] = {
    "parties": PartyRow,
    "offerings": OfferingRow,
    "needs": NeedRow,
}


def infer_kind(fields: set[str]) -> Kind | None:
    """Tell the kind of a file from its field names (the domain README's rule)."""
    if "iso3" in fields:
        return "parties"
    if "party" in fields and "description" in fields:
        return "needs"
    if "provider" in fields and "title" in fields:
        return "offerings"
    return None


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:100] or "provider"
