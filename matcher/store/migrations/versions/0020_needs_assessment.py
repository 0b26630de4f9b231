"""The needs assessment (Article 14(4)): national-report and survey answers read as
statements of need, needs-survey rounds and responses, and each need's challenge kind and
vague flag, kept when its text is written.

Revision ID: 0020
Revises: 0004
Create Date: 2026-12-02 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision: str | None = "0017"
branch_labels = None
depends_on = None

KINDS = "('capacity', 'financing', 'technology-access', 'information', 'institutional')"


def upgrade() -> None:
    with op.batch_alter_table("needs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("challenge_kind", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("vague", sa.Boolean(), nullable=True))
        batch_op.create_check_constraint(
            "need_challenge_kind_known", f"challenge_kind IS NULL OR challenge_kind IN {KINDS}"
        )
    op.create_table(
        "report_answers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("party_iso3", sa.String(length=3), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=100), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("sectors", sa.JSON(), nullable=False),
        sa.Column("assistance_types", sa.JSON(), nullable=False),
        sa.Column("challenge_kind", sa.String(length=24), nullable=True),
        sa.Column("vague", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("need_id", sa.String(length=200), nullable=True),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("source IN ('report', 'survey')", name="report_answer_source_known"),
        sa.CheckConstraint(
            f"challenge_kind IS NULL OR challenge_kind IN {KINDS}", name="report_answer_challenge_kind_known"
        ),
        sa.ForeignKeyConstraint(["need_id"], ["needs.id"]),
        sa.ForeignKeyConstraint(["party_iso3"], ["parties.iso3"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("party_iso3", "cycle", "question_id", name="report_answer_party_cycle_question"),
    )
    op.create_index("ix_report_answers_party_iso3", "report_answers", ["party_iso3"], unique=False)
    op.create_table(
        "survey_rounds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("opens", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.CheckConstraint("opens <= deadline", name="survey_round_window_ordered"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("party_iso3", sa.String(length=3), nullable=False),
        sa.Column("sectors", sa.JSON(), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.Column("assistance_types", sa.JSON(), nullable=False),
        sa.Column("free_text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("need_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["need_id"], ["needs.id"]),
        sa.ForeignKeyConstraint(["party_iso3"], ["parties.iso3"]),
        sa.ForeignKeyConstraint(["round_id"], ["survey_rounds.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("round_id", "party_iso3", name="survey_response_round_party"),
    )
    op.create_index("ix_survey_responses_round_id", "survey_responses", ["round_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_survey_responses_round_id", table_name="survey_responses")
    op.drop_table("survey_responses")
    op.drop_table("survey_rounds")
    op.drop_index("ix_report_answers_party_iso3", table_name="report_answers")
    op.drop_table("report_answers")
    with op.batch_alter_table("needs", schema=None) as batch_op:
        batch_op.drop_constraint("need_challenge_kind_known", type_="check")
        batch_op.drop_column("vague")
        batch_op.drop_column("challenge_kind")
