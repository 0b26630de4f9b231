"""History and a learned re-ranker: the umbrella an offering belongs to, the year of an
imported past need, the model version on each proposal, and the stored re-rankers.

Revision ID: 0019
Revises: 0005
Create Date: 2026-12-04 00:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision: str | None = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("offerings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent", sa.String(length=200), nullable=True))
    with op.batch_alter_table("needs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("history_year", sa.Integer(), nullable=True))
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_version", sa.String(length=64), nullable=True))
    op.create_table(
        "ranking_models",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("evaluation", sa.JSON(), nullable=False),
        sa.Column("training", sa.JSON(), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('active', 'refused', 'retired')", name="ranking_model_state_known"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_ranking_models_one_active",
        "ranking_models",
        ["state"],
        unique=True,
        sqlite_where=sa.text("state = 'active'"),
        postgresql_where=sa.text("state = 'active'"),
    )


def downgrade() -> None:
    op.drop_index("ix_ranking_models_one_active", table_name="ranking_models")
    op.drop_table("ranking_models")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_column("model_version")
    with op.batch_alter_table("needs", schema=None) as batch_op:
        batch_op.drop_column("history_year")
    with op.batch_alter_table("offerings", schema=None) as batch_op:
        batch_op.drop_column("parent")
