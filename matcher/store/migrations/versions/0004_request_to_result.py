"""From request to result: the `closed` proposal state, outcomes of introductions, the
offering's contact and how to apply, withdrawal reasons and reconfirmation of idle needs,
providers' expressions of interest, background jobs and worker leases.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 00:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

STATES_BEFORE = "state IN ('proposed', 'accepted', 'rejected', 'introduced')"
STATES_AFTER = "state IN ('proposed', 'accepted', 'rejected', 'introduced', 'closed')"
OUTCOMES = "outcome IS NULL OR outcome IN ('agreed', 'funded', 'declined', 'no-response')"


def upgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_constraint("match_state_known", type_="check")
        batch_op.create_check_constraint("match_state_known", STATES_AFTER)
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("close_reason", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("outcome_amount", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("outcome_currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("outcome_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint("match_outcome_known", OUTCOMES)
        batch_op.create_check_constraint(
            "match_outcome_amount_non_negative", "outcome_amount IS NULL OR outcome_amount >= 0"
        )
    with op.batch_alter_table("needs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdraw_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("reconfirm_requested_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reconfirmed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("offerings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("how_to_apply", sa.Text(), nullable=True))
    op.create_table(
        "interests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("need_id", sa.String(length=200), nullable=False),
        sa.Column("offering_id", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["need_id"], ["needs.id"]),
        sa.ForeignKeyConstraint(["offering_id"], ["offerings.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("need_id", "offering_id", name="interest_need_offering_unique"),
    )
    op.create_index("ix_interests_need_id", "interests", ["need_id"], unique=False)
    op.create_index("ix_interests_offering_id", "interests", ["offering_id"], unique=False)
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_jobs_pending", "jobs", ["done_at", "run_after"], unique=False)
    op.create_table(
        "worker_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("worker_leases")
    op.drop_index("ix_jobs_pending", table_name="jobs")
    op.drop_table("jobs")
    op.drop_index("ix_interests_offering_id", table_name="interests")
    op.drop_index("ix_interests_need_id", table_name="interests")
    op.drop_table("interests")
    with op.batch_alter_table("offerings", schema=None) as batch_op:
        batch_op.drop_column("how_to_apply")
        batch_op.drop_column("contact")
    with op.batch_alter_table("needs", schema=None) as batch_op:
        batch_op.drop_column("reconfirmed_at")
        batch_op.drop_column("reconfirm_requested_at")
        batch_op.drop_column("withdraw_reason")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_constraint("match_outcome_amount_non_negative", type_="check")
        batch_op.drop_constraint("match_outcome_known", type_="check")
        for column in ("outcome_at", "outcome_note", "outcome_currency", "outcome_amount", "outcome"):
            batch_op.drop_column(column)
        batch_op.drop_column("close_reason")
        batch_op.drop_column("closed_at")
        batch_op.drop_constraint("match_state_known", type_="check")
        batch_op.create_check_constraint("match_state_known", STATES_BEFORE)
