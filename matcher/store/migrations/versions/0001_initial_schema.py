"""Initial schema: parties, providers, offerings, needs, matches, audit events and
the embedding cache. Audit events are protected by triggers on both engines.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 14:14:22.235065
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=200), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entity", ["entity_type", "entity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_occurred_at"), ["occurred_at"], unique=False)

    op.create_table(
        "embedding_cache",
        sa.Column("encoder", sa.String(length=200), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("encoder", "text_hash"),
    )
    op.create_table(
        "parties",
        sa.Column("iso3", sa.String(length=3), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("name_fr", sa.String(length=200), nullable=True),
        sa.Column("name_es", sa.String(length=200), nullable=True),
        sa.Column("un_region", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ldc", sa.Boolean(), nullable=False),
        sa.Column("sids", sa.Boolean(), nullable=False),
        sa.CheckConstraint("status IN ('developing', 'transition', 'developed')", name="party_status_known"),
        sa.CheckConstraint("length(iso3) = 3", name="party_iso3_length"),
        sa.PrimaryKeyConstraint("iso3"),
    )
    op.create_table(
        "providers",
        sa.Column("provider_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("provider_id"),
    )
    op.create_table(
        "needs",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("party_iso3", sa.String(length=3), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("sectors", sa.JSON(), nullable=False),
        sa.Column("assistance_types", sa.JSON(), nullable=False),
        sa.Column("inferred_sectors", sa.JSON(), nullable=False),
        sa.Column("inferred_assistance_types", sa.JSON(), nullable=False),
        sa.Column("budget_usd", sa.Float(), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'in_review', 'matched', 'closed', 'withdrawn')",
            name="need_status_known",
        ),
        sa.CheckConstraint("budget_usd IS NULL OR budget_usd >= 0", name="need_budget_non_negative"),
        sa.ForeignKeyConstraint(
            ["party_iso3"],
            ["parties.iso3"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("needs", schema=None) as batch_op:
        batch_op.create_index("ix_needs_party_status", ["party_iso3", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_needs_status"), ["status"], unique=False)

    op.create_table(
        "offerings",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("provider_id", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=300), nullable=False),
        sa.Column("provider_kind", sa.String(length=32), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("sectors", sa.JSON(), nullable=False),
        sa.Column("assistance_types", sa.JSON(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("countries", sa.JSON(), nullable=False),
        sa.Column("eligible_status", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("funding_min_usd", sa.Float(), nullable=True),
        sa.Column("funding_max_usd", sa.Float(), nullable=True),
        sa.Column("url", sa.String(length=1000), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("opens", sa.Date(), nullable=True),
        sa.Column("closes", sa.Date(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "provider_kind IN ('financial-mechanism', 'gef-agency', 'un-body', 'secretariat', 'donor', 'regional-centre', 'partnership', 'ngo', 'academic', 'intergovernmental')",
            name="offering_provider_kind_known",
        ),
        sa.CheckConstraint("capacity IS NULL OR capacity >= 0", name="offering_capacity_non_negative"),
        sa.CheckConstraint(
            "funding_min_usd IS NULL OR funding_max_usd IS NULL OR funding_min_usd <= funding_max_usd",
            name="offering_funding_range_ordered",
        ),
        sa.CheckConstraint(
            "opens IS NULL OR closes IS NULL OR opens <= closes", name="offering_window_ordered"
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.provider_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("offerings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offerings_active"), ["active"], unique=False)
        batch_op.create_index(batch_op.f("ix_offerings_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "matches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("need_id", sa.String(length=200), nullable=False),
        sa.Column("offering_id", sa.String(length=200), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("engine_version", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("reviewer", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("introduced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state <> 'rejected' OR (reject_reason IS NOT NULL AND length(reject_reason) > 0)",
            name="match_rejection_has_reason",
        ),
        sa.CheckConstraint(
            "state IN ('proposed', 'accepted', 'rejected', 'introduced')", name="match_state_known"
        ),
        sa.ForeignKeyConstraint(
            ["need_id"],
            ["needs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["offering_id"],
            ["offerings.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("need_id", "offering_id", name="match_need_offering_unique"),
    )
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_matches_need_id"), ["need_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_matches_offering_id"), ["offering_id"], unique=False)
        batch_op.create_index("ix_matches_state_created", ["state", "created_at"], unique=False)

    _create_audit_guards()


def _create_audit_guards() -> None:
    """Make audit_events append-only in the database itself, not only in the ORM."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()"
        )


def _drop_audit_guards() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_change ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_refuse_change()")


def downgrade() -> None:
    _drop_audit_guards()
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index("ix_matches_state_created")
        batch_op.drop_index(batch_op.f("ix_matches_offering_id"))
        batch_op.drop_index(batch_op.f("ix_matches_need_id"))

    op.drop_table("matches")
    with op.batch_alter_table("offerings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offerings_provider_id"))
        batch_op.drop_index(batch_op.f("ix_offerings_active"))

    op.drop_table("offerings")
    with op.batch_alter_table("needs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_needs_status"))
        batch_op.drop_index("ix_needs_party_status")

    op.drop_table("needs")
    op.drop_table("providers")
    op.drop_table("parties")
    op.drop_table("embedding_cache")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))
        batch_op.drop_index("ix_audit_entity")

    op.drop_table("audit_events")
