"""Typed settings, read from the environment with the ``MATCHER_`` prefix.

Everything configurable lives here; library code receives values, it never reads
``os.environ`` itself. ``get_settings()`` is cached; tests clear the cache (or pass a
``Settings`` object explicitly) to change a value.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from matcher.engine.weights import RankingWeights


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MATCHER_", env_file=None, extra="ignore", env_nested_delimiter="__"
    )

    data_dir: Path = Field(
        default=Path("./var"),
        description="Folder holding the SQLite database (by default) and the vector index files.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL. Default: a SQLite file `matcher.sqlite3` under data_dir. "
            "PostgreSQL: postgresql+psycopg://user:password@host/dbname"
        ),
    )

    public_url: str | None = Field(
        default=None,
        description="The address users reach the service at, e.g. https://match.example.org. Links in "
        "e-mail notices are made absolute with it (unset: they stay paths such as /needs/ID); when it "
        "starts with https://, session cookies are Secure and responses carry Strict-Transport-Security.",
    )

    multilingual_encoder: str = Field(
        default="use",
        description="Encoder for the multilingual dense signal: 'use' (Universal Sentence Encoder "
        "multilingual v3), 'minilm', 'fake', 'st:/path/to/sentence-transformers-folder', or '' to turn it off.",
    )
    english_encoder: str = Field(
        default="minilm",
        description="Encoder for the need-in-English dense signal (same choices); '' turns it off.",
    )
    ranking: RankingWeights = Field(default_factory=RankingWeights)
    unmet_score_threshold: float = Field(
        default=0.6,
        description="Unmet-needs report: an open need whose best proposal scores below this (the "
        "engine's scale; good matches score about 0.8 to 1.2) counts as unmet.",
    )
    proposals_per_need: int = Field(
        default=10,
        ge=1,
        le=100,
        description="Automatic matching keeps this many undecided proposals per open need.",
    )
    job_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often each server process looks for background jobs no request ran "
        "(left by a process that stopped, retries, needs filed by an import).",
    )
    catalog_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often each server process looks for catalogue changes made by other workers "
        "(or `matcher catalog load`) when no PostgreSQL notification came (on SQLite: always).",
    )
    freshness_ms: int = Field(
        default=100,
        ge=0,
        description="Each read compares this process's catalogue version with the database's at most "
        "this often (milliseconds), and applies the changes it finds before answering.",
    )
    checkpoint_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How often at most a server process saves its vector indexes and engine artefacts "
        "after changes (and at shutdown), so that a restart starts from them.",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Worker processes of `matcher serve` (as its --workers option).",
    )
    encoder_threads: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Threads each server process gives its encoders' arithmetic (0: the machine's cores "
        "divided by the workers, at least 1). Two workers on two cores that each take both cores slow "
        "every write down.",
    )
    reconfirm_after_days: int = Field(
        default=180,
        ge=1,
        description="Lifecycle: an open need with no change for this many days is asked to reconfirm.",
    )
    reconfirm_grace_days: int = Field(
        default=30,
        ge=1,
        description="Lifecycle: a need asked to reconfirm that stays silent this many days is closed.",
    )
    donor_min_score: float = Field(
        default=0.85,
        description="Donor view: open needs scoring below this (the engine's scale) are not listed "
        "as fitting a programme. Measured: on the dev set 0.85 keeps 70% of the relevant pairs at "
        "40% precision, on the team's 144-request set 60% at 51% (F1 is highest near it on both).",
    )
    undo_minutes: float = Field(
        default=10,
        ge=0,
        description="Review: an accept or a reject can be undone (back to proposed, audited as a "
        "reversal) for this many minutes after the decision; 0 turns undo off.",
    )
    unmet_after_days: int = Field(
        default=60,
        description="Unmet-needs report: an open need with no accepted proposal this many days after "
        "it was filed counts as unmet.",
    )

    smtp_url: SecretStr | None = Field(
        default=None,
        description="Where e-mail notices are sent: smtp://host:port, smtps://host:port (TLS from the "
        "start) or smtp+starttls://host:port, optionally with user:password@ (percent-encoded). Unset: "
        "nothing is sent and notices wait in the outbox.",
    )
    mail_from: str = Field(
        default="Minamata Match <no-reply@localhost>",
        description="The From header of e-mail notices (its address is also the envelope sender, and its "
        "domain names the Message-IDs when it has a dot).",
    )
    digest_hour: int = Field(
        default=7,
        ge=0,
        le=23,
        description="Hour (UTC) from which each day's digest goes out to recipients who chose a daily digest.",
    )
    notify_poll_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often the notification sender looks for notices to deliver.",
    )
    notify_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long the sender's lease (one sending process across workers) and its claim on a "
        "notice last without renewal: a sender that dies is replaced after at most this long.",
    )
    smtp_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Timeout of each SMTP connection and command."
    )
    notify_in_serve: bool = Field(
        default=True,
        description="Run the notification sender inside `matcher serve` (false when only "
        "`matcher notify run` from cron sends).",
    )

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def resolved_encoder_threads(self) -> int:
        return self.encoder_threads or max(1, (os.cpu_count() or 1) // self.workers)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'matcher.sqlite3').resolve()}"

    @property
    def display_database_url(self) -> str:
        """The database URL with its password masked: the only form that is printed or logged."""
        return mask_password(self.resolved_database_url)

    @property
    def behind_https(self) -> bool:
        return (self.public_url or "").lower().startswith("https://")

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir


def mask_password(url: str) -> str:
    """``url`` with any password replaced by ``***`` (SQLAlchemy's own rendering)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL SQLAlchemy reads: show no part of it
        return "<unreadable database URL>"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
