"""Payments: `payment_methods`, `payments`, `payment_transactions`, `payment_attempts` (the payment service) and
`invoice_payments` (the invoice service, as in Kill Bill), all audited, with Kill Bill's columns
(`payment/src/main/resources/org/killbill/billing/payment/ddl.sql`, `invoice/.../ddl.sql`).

Revision ID: 0010_payments
Revises: 0009_usage
"""

import sqlalchemy as sa
from alembic import op

from billow.core.db.types import Money, UTCDateTime
from billow.migrations.helpers import create_audited, drop_audited

revision = "0010_payments"
down_revision = "0009_usage"
branch_labels = None
depends_on = None

_TABLES = ("payment_methods", "payments", "payment_transactions", "payment_attempts", "invoice_payments")


def _by_account(name: str) -> None:
    op.create_index(f"ix_{name}_tenant_account", name, ["tenant_record_id", "account_record_id"])
    op.drop_index(f"ix_{name}_tenant_record_id", table_name=name)


def upgrade() -> None:
    create_audited(
        "payment_methods",
        sa.Column("external_key", sa.String(255), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("plugin_name", sa.String(50), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("plugin_info", sa.Text(), nullable=True),
    )
    op.create_index("ix_payment_methods_external_key", "payment_methods", ["external_key"])
    create_audited(
        "payments",
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("payment_method_id", sa.String(36), nullable=False),
        sa.Column("external_key", sa.String(255), nullable=False),
        sa.Column("state_name", sa.String(64), nullable=True),
        sa.Column("last_success_state_name", sa.String(64), nullable=True),
    )
    op.create_index("ix_payments_external_key", "payments", ["external_key"])
    create_audited(
        "payment_transactions",
        sa.Column("attempt_id", sa.String(36), nullable=True),
        sa.Column("payment_id", sa.String(36), nullable=False),
        sa.Column("transaction_type", sa.String(32), nullable=False),
        sa.Column("transaction_external_key", sa.String(255), nullable=False),
        sa.Column("transaction_status", sa.String(50), nullable=False),
        sa.Column("effective_date", UTCDateTime(), nullable=False),
        sa.Column("amount", Money(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("processed_amount", Money(), nullable=True),
        sa.Column("processed_currency", sa.String(3), nullable=True),
        sa.Column("gateway_error_code", sa.String(32), nullable=True),
        sa.Column("gateway_error_msg", sa.String(256), nullable=True),
        sa.Column("first_payment_reference_id", sa.String(128), nullable=True),
        sa.Column("second_payment_reference_id", sa.String(128), nullable=True),
    )
    op.create_index("ix_payment_transactions_payment", "payment_transactions", ["payment_id"])
    op.create_index("ix_payment_transactions_key", "payment_transactions", ["transaction_external_key"])
    op.create_index("ix_payment_transactions_status", "payment_transactions", ["transaction_status"])
    create_audited(
        "payment_attempts",
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("payment_method_id", sa.String(36), nullable=True),
        sa.Column("payment_external_key", sa.String(255), nullable=False),
        sa.Column("transaction_id", sa.String(36), nullable=True),
        sa.Column("transaction_external_key", sa.String(255), nullable=False),
        sa.Column("transaction_type", sa.String(32), nullable=False),
        sa.Column("state_name", sa.String(32), nullable=False),
        sa.Column("amount", Money(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("plugin_name", sa.String(1024), nullable=False),
        sa.Column("invoice_id", sa.String(36), nullable=True),
        sa.Column("plugin_properties", sa.Text(), nullable=True),
    )
    op.create_index("ix_payment_attempts_payment_key", "payment_attempts", ["payment_external_key"])
    op.create_index("ix_payment_attempts_invoice", "payment_attempts", ["invoice_id"])
    create_audited(
        "invoice_payments",
        sa.Column("invoice_payment_type", sa.String(24), nullable=False),
        sa.Column("invoice_id", sa.String(36), nullable=False),
        sa.Column("payment_id", sa.String(36), nullable=True),
        sa.Column("payment_date", UTCDateTime(), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("processed_currency", sa.String(3), nullable=False),
        sa.Column("payment_cookie_id", sa.String(255), nullable=True),
        sa.Column("linked_invoice_payment_id", sa.String(36), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_invoice_payments_invoice", "invoice_payments", ["invoice_id"])
    op.create_index("ix_invoice_payments_payment", "invoice_payments", ["payment_id"])
    op.create_index("ix_invoice_payments_cookie", "invoice_payments", ["payment_cookie_id"])
    for name in _TABLES:
        _by_account(name)


def downgrade() -> None:
    for name in reversed(_TABLES):
        drop_audited(name)
