"""Fixtures of the payment tests: the entitlement tests' World with payment helpers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from billow.invoice.credit import balance
from billow.invoice.model import Invoice, InvoiceItemType
from billow.invoice.service import ItemInput
from billow.payment.model import PaymentMethod
from billow.payment.provider.testing import TestPaymentPlugin
from tests.entitlement.conftest import World, world  # noqa: F401 - fixture re-export

TEST_PLUGIN = "killbill-payment-test"
EXTERNAL = "__EXTERNAL_PAYMENT__"


@dataclass
class PayWorld:
    w: World

    @property
    def kb(self):  # type: ignore[no-untyped-def]
        return self.w.kb

    @property
    def ctx(self):  # type: ignore[no-untyped-def]
        return self.w.ctx

    @property
    def account_id(self) -> str:
        return self.w.account.id

    @property
    def plugin(self) -> TestPaymentPlugin:
        plugin = self.kb.payment.plugins.get(TEST_PLUGIN)
        assert isinstance(plugin, TestPaymentPlugin)
        return plugin

    def configure(self, action: str, **extra: object) -> None:
        with self.kb.db.read(self.ctx) as uow:
            pctx = self.kb.payment.processor.plugin_context(uow, TEST_PLUGIN, self.kb.payment.processor.config(uow))
        self.plugin.configure({"CONFIGURE_ACTION": action, **extra}, pctx)

    def add_method(self, plugin: str = TEST_PLUGIN, default: bool = True) -> PaymentMethod:
        return self.kb.payment.methods.add(self.ctx, self.account_id, plugin, is_default=default)

    def charge(self, amount: str) -> Invoice:
        """A COMMITTED invoice with one external charge (INVOICE_CREATION follows)."""
        items = self.kb.invoices.add_items(self.ctx, self.account_id, [ItemInput(amount=Decimal(amount),
                                                                                 currency="USD")],
                                           InvoiceItemType.EXTERNAL_CHARGE, requested=None, auto_commit=True)
        return self.invoice(items[0].invoice_id)

    def invoice(self, invoice_id: str) -> Invoice:
        assert self.kb.run_until_idle(30)
        return self.kb.invoices.get(self.ctx, invoice_id)

    def balance(self, invoice_id: str) -> Decimal:
        return balance(self.invoice(invoice_id))


@pytest.fixture()
def pw(world: World) -> PayWorld:  # noqa: F811
    return PayWorld(world)
