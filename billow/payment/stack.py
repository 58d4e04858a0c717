"""Builds the payment service from the internal APIs below it (called once by `billow/app.py`)."""

from __future__ import annotations

from billow.account.internal import AccountInternalApi
from billow.account.model import Account
from billow.core.bus.bus import Bus
from billow.core.db import Database, UnitOfWork
from billow.core.db.export import TableDump, audited_rows
from billow.core.objects import ObjectOwner, ObjectType, object_does_not_exist
from billow.invoice.internal import InvoiceInternalApi
from billow.invoice.payments import InvoicePaymentInternalApi
from billow.payment import listeners, store
from billow.payment.config import Settings
from billow.payment.invoice_control import InvoicePaymentControl
from billow.payment.invoices import InvoicePayments
from billow.payment.janitor import Janitor
from billow.payment.methods import PaymentMethods
from billow.payment.plugins import PaymentPluginRegistry
from billow.payment.processor import PaymentProcessor
from billow.payment.service import PaymentService
from billow.tag.internal import TagInternalApi
from billow.tag.model import AUTO_PAY_OFF, BUILT_IN_NAMES
from billow.tenant.internal import TenantInternalApi


class PaymentExport:
    """The account's rows of the payment tables, with their history (account export)."""

    @staticmethod
    def export(uow: UnitOfWork, account: Account) -> list[TableDump]:
        return [dump for name in ("payment_methods", "payments", "payment_transactions", "payment_attempts")
                for dump in audited_rows(uow, name, account.record_id)]


class PaymentStack:
    """The payment service's parts: `payments` (transactions), `methods`, `invoices` (invoice payments),
    `janitor`, `plugins` (the registry), and owner look-ups for tags and custom fields."""

    def __init__(self, db: Database, bus: Bus, accounts: AccountInternalApi, tenants: TenantInternalApi,
                 invoices: InvoiceInternalApi, tags: TagInternalApi, settings: Settings,
                 plugins: PaymentPluginRegistry | None = None) -> None:
        self.plugins = plugins or PaymentPluginRegistry()
        self.processor = PaymentProcessor(accounts, tenants, self.plugins, settings)
        invoice_payments = InvoicePaymentInternalApi(invoices)
        self.control = InvoicePaymentControl(invoice_payments, bus)
        self.payments = PaymentService(db, self.processor, self.control.on_outcome)

        def auto_pay_off(uow: UnitOfWork, owner: ObjectOwner) -> None:
            tags.add(uow, owner, owner.account_id, ObjectType.ACCOUNT, BUILT_IN_NAMES[AUTO_PAY_OFF].id)

        self.methods = PaymentMethods(db, accounts, self.processor, auto_pay_off)
        self.invoices = InvoicePayments(db, self.payments, self.processor, invoice_payments, self.control,
                                        accounts, tags)
        self.janitor = Janitor(db, bus, self.processor, self.control)
        listeners.install(bus, self.invoices)
        self.janitor.install()

    # -- owners of payment objects (tags, custom fields, audit) ------------------------------------------
    @staticmethod
    def owner_of_payment(uow: UnitOfWork, payment_id: str) -> ObjectOwner:
        found = store.payment(uow.conn, uow.tenant, payment_id=payment_id)
        if found is None:
            raise object_does_not_exist(payment_id, ObjectType.PAYMENT)
        return ObjectOwner(found.account_record_id, found.account_id)

    @staticmethod
    def owner_of_method(uow: UnitOfWork, method_id: str) -> ObjectOwner:
        found = store.method(uow.conn, uow.tenant, method_id=method_id, active_only=False)
        if found is None:
            raise object_does_not_exist(method_id, ObjectType.PAYMENT_METHOD)
        return ObjectOwner(found.account_record_id, found.account_id)

    @staticmethod
    def owner_of_transaction(uow: UnitOfWork, transaction_id: str) -> ObjectOwner:
        trx = store.transaction(uow.conn, uow.tenant, transaction_id)
        found = store.payment(uow.conn, uow.tenant, payment_id=trx.payment_id) if trx else None
        if found is None:
            raise object_does_not_exist(transaction_id, ObjectType.TRANSACTION)
        return ObjectOwner(found.account_record_id, found.account_id)

    def close(self) -> None:
        self.processor.pool.shutdown(wait=False, cancel_futures=True)
