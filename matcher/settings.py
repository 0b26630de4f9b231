"""Typed settings, read from the environment with the ``MATCHER_`` prefix.

Everything configurable lives here; library code receives values, it never reads
``os.environ`` itself. ``get_settings()`` is cached; tests clear the cache (or pass a
``Settings`` object explicitly) to change a value.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
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
        description="The address users reach the service at, e.g. https://match.example.org. When it "
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
    unmet_after_days: int = Field(
        default=60,
        description="Unmet-needs report: an open need with no accepted proposal this many days after "
        "it was filed counts as unmet.",
    )

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

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
