"""Case work: a need's assigned officer and the secretariat's internal notes.

Revision ID: 0017
Revises: 0006
Create Date: 2026-12-03 00:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_assignments",
        sa.Column("need_id", sa.String(length=200), nullable=False),
        sa.Column("officer_key_id", sa.String(length=32), nullable=False),
        sa.Column("assigned_by", sa.String(length=200), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["need_id"], ["needs.id"]),
        sa.ForeignKeyConstraint(["officer_key_id"], ["api_keys.id"]),
        sa.PrimaryKeyConstraint("need_id"),
    )
    op.create_index(
        "ix_case_assignments_officer_key_id", "case_assignments", ["officer_key_id"], unique=False
    )
    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("need_id", sa.String(length=200), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(body) > 0", name="case_note_not_empty"),
        sa.ForeignKeyConstraint(["need_id"], ["needs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_notes_need_id", "case_notes", ["need_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_notes_need_id", table_name="case_notes")
    op.drop_table("case_notes")
    op.drop_index("ix_case_assignments_officer_key_id", table_name="case_assignments")
    op.drop_table("case_assignments")
