"""API keys: hashed secrets, a role and the scope (party or provider) of each key.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 15:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("party_iso3", sa.String(length=3), nullable=True),
        sa.Column("provider_id", sa.String(length=100), nullable=True),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('party', 'provider', 'secretariat', 'admin')", name="api_key_role_known"
        ),
        sa.CheckConstraint(
            "(role = 'party') = (party_iso3 IS NOT NULL) AND (role = 'provider') = (provider_id IS NOT NULL)",
            name="api_key_scope_matches_role",
        ),
        sa.ForeignKeyConstraint(["party_iso3"], ["parties.iso3"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
