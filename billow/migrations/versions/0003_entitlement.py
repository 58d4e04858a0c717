"""Entitlement: bundles, subscriptions, subscription events, blocking states.

Revision ID: 0003_entitlement
Revises: 0002_bus
"""

import sqlalchemy as sa
from alembic import op

from billow.core.db.types import UTCDateTime
from billow.migrations.helpers import create_audited, drop_audited

revision = "0003_entitlement"
down_revision = "0002_bus"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audited(
        "bundles",
        sa.Column("external_key", sa.String(255), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("original_created_date", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_bundles_external_key", "bundles", ["external_key"])
    create_audited(
        "subscriptions",
        sa.Column("bundle_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("external_key", sa.String(255), nullable=False),
        sa.Column("start_date", UTCDateTime(), nullable=False),
        sa.Column("bundle_start_date", UTCDateTime(), nullable=False),
        sa.Column("charged_through_date", UTCDateTime(), nullable=True),
        sa.Column("migrated", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_subscriptions_bundle_id", "subscriptions", ["bundle_id"])
    op.create_index("ix_subscriptions_external_key", "subscriptions", ["external_key"])
    create_audited(
        "subscription_events",
        sa.Column("subscription_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("effective_date", UTCDateTime(), nullable=False),
        sa.Column("plan_name", sa.String(255), nullable=True),
        sa.Column("price_list_name", sa.String(64), nullable=True),
        sa.Column("phase_align_date", UTCDateTime(), nullable=True),
        sa.Column("initial_phase_type", sa.String(32), nullable=True),
        sa.Column("billing_cycle_day_local", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("price_overrides", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_subscription_events_subscription_id", "subscription_events", ["subscription_id"])
    create_audited(
        "blocking_states",
        sa.Column("blockable_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("state", sa.String(50), nullable=False),
        sa.Column("service", sa.String(50), nullable=False),
        sa.Column("block_change", sa.Boolean(), nullable=False),
        sa.Column("block_entitlement", sa.Boolean(), nullable=False),
        sa.Column("block_billing", sa.Boolean(), nullable=False),
        sa.Column("effective_date", UTCDateTime(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_blocking_states_blockable_id", "blocking_states", ["blockable_id"])


def downgrade() -> None:
    for name in ("blocking_states", "subscription_events", "subscriptions", "bundles"):
        drop_audited(name)
