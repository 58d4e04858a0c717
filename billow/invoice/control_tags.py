"""Control tags as invoicing reads them: for a whole billing batch at once, through the tag service.

AUTO_INVOICING_OFF, AUTO_INVOICING_DRAFT and AUTO_INVOICING_REUSE_DRAFT on an account steer its runs
(`billing_run.run_once`); WRITTEN_OFF on an invoice makes its balance 0 and keeps it out of the account
balance and of credit (`credit.py`). Kill Bill reads them in `DefaultInternalBillingApi`,
`InvoiceDispatcher` and `DefaultInvoice.getBalance` / `DefaultInvoiceDao.getAccountBalance`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from billow.core.db import UnitOfWork
from billow.invoice.model import Invoice
from billow.tag.model import WRITTEN_OFF, ControlTagsOfAccounts

# (unit of work, account record ids) -> the control tags of those accounts and of their objects, one query
ControlTags = Callable[[UnitOfWork, Sequence[int]], ControlTagsOfAccounts]

NO_TAGS = ControlTagsOfAccounts()


def no_control_tags(uow: UnitOfWork, account_record_ids: Sequence[int]) -> ControlTagsOfAccounts:
    """No account and no invoice carries a control tag (a billing run built without the tag service)."""
    return NO_TAGS


def with_written_off(invoices: list[Invoice], tags: ControlTagsOfAccounts) -> list[Invoice]:
    """The invoices, those tagged WRITTEN_OFF marked so."""
    if not tags.objects:
        return invoices
    return [dataclasses.replace(inv, written_off=True) if WRITTEN_OFF in tags.of_object(inv.id) else inv
            for inv in invoices]
