"""Refreshing an account's overdue state, in the caller's unit of work under the account lock (Kill Bill's
`OverdueWrapper.refresh`, `BillingStateCalculator`, `OverdueStateApplicator`; ../shared/spec/platform.md B.2-B.3):

1. OVERDUE_ENFORCEMENT_OFF on the account: nothing changes;
2. the billing state (unpaid invoices, their balance, the earliest one's date, control tags) is read, the next
   state evaluated (`evaluation.evaluate`), and the next check scheduled at the state's re-evaluation interval;
3. a change of state cancels subscriptions where the state says so, adds or removes AUTO_INVOICING_OFF as
   billing becomes blocked or unblocked, writes the account's blocking state (service `overdue-service`) and
   posts OVERDUE_CHANGE. The same state again changes nothing: a duplicate event is harmless.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from billow.account.internal import AccountInternalApi
from billow.account.model import Account
from billow.catalog.model import ProductCategory
from billow.core.bus.bus import Bus
from billow.core.db import UnitOfWork
from billow.core.objects import ObjectOwner, ObjectType
from billow.entitlement.internal import EntitlementInternalApi
from billow.entitlement.model import BillingActionPolicy, BlockingStateType, EntitlementActionPolicy
from billow.entitlement.views import build_view
from billow.invoice.credit import balance
from billow.invoice.internal import InvoiceInternalApi
from billow.invoice.model import InvoiceStatus
from billow.overdue.configs import OverdueConfigs
from billow.overdue.evaluation import evaluate
from billow.overdue.events import OverdueChangeEvent
from billow.overdue.model import (
    CLEAR_STATE,
    CLEAR_STATE_NAME,
    OVERDUE_SERVICE,
    BillingState,
    CancellationPolicy,
    Duration,
    OverdueConfig,
    OverdueState,
)
from billow.tag.internal import TagInternalApi
from billow.tag.model import AUTO_INVOICING_OFF, BUILT_IN_NAMES, OVERDUE_ENFORCEMENT_OFF

CHECK_QUEUE = "overdue-check-queue"


class OverdueApplicator:
    def __init__(self, bus: Bus, configs: OverdueConfigs, accounts: AccountInternalApi,
                 entitlements: EntitlementInternalApi, invoices: InvoiceInternalApi, tags: TagInternalApi) -> None:
        self.bus = bus
        self.configs = configs
        self.accounts = accounts
        self.entitlements = entitlements
        self.invoices = invoices
        self.tags = tags

    # -- reads -------------------------------------------------------------------------------------------
    def current(self, uow: UnitOfWork, account: Account, config: OverdueConfig) -> OverdueState:
        """The account's overdue state now: its latest `overdue-service` blocking state in effect (clear when none)."""
        name = CLEAR_STATE_NAME
        for s in self.entitlements.blocking_states(uow, account):
            if (s.service == OVERDUE_SERVICE and s.type is BlockingStateType.ACCOUNT and s.blockable_id == account.id
                    and s.effective_date <= uow.now):
                name = s.state_name
        return config.state(name)

    def billing_state(self, uow: UnitOfWork, account: Account) -> BillingState:
        """Kill Bill's `BillingStateCalculator`: the unpaid invoices are COMMITTED, not written off, due (target date
        today or before) and have a balance (a child's invoice: its parent invoice's); an account whose payments
        its parent makes is judged on the parent's invoices."""
        payer = account
        if account.is_payment_delegated_to_parent and account.parent_account_id:
            payer = self.accounts.get(uow, account.parent_account_id)
        today = payer.time.local_date(uow.now)
        unpaid = [(inv, b) for inv in self.invoices.invoices(uow, payer)
                  if inv.status is InvoiceStatus.COMMITTED and (inv.target_date or inv.invoice_date) <= today
                  and (b := balance(inv)) > 0]
        tags = self.tags.control_tags(uow, [account.record_id])[account.record_id]
        return BillingState(len(unpaid), sum((b for _, b in unpaid), Decimal(0)),
                            min((inv.invoice_date for inv, _ in unpaid), default=None), tags)

    # -- refresh -------------------------------------------------------------------------------------------
    def refresh(self, uow: UnitOfWork, account: Account) -> OverdueState | None:
        """Evaluate and apply; the new state (None when overdue does not apply to the account)."""
        config = self.configs.config(uow)
        if not config.evaluates:
            return None
        uow.lock_account(account.record_id)
        billing = self.billing_state(uow, account)
        if OVERDUE_ENFORCEMENT_OFF in billing.control_tags:
            return None
        previous = self.current(uow, account, config)
        nxt = evaluate(config, billing, account.time.local_date(uow.now))
        self._schedule_check(uow, account, config, nxt, has_unpaid=billing.unpaid_invoice_count > 0)
        if previous.name == nxt.name:
            return nxt
        self._apply(uow, account, previous, nxt)
        return nxt

    def clear(self, uow: UnitOfWork, account: Account) -> None:
        """OVERDUE_ENFORCEMENT_OFF added (Kill Bill's `OverdueWrapper.clear`): the clear state, no pending checks,
        billing unblocked, and OVERDUE_CHANGE even when the account was clear already."""
        config = self.configs.config(uow)
        uow.lock_account(account.record_id)
        previous = self.current(uow, account, config)
        self._remove_checks(uow, account)
        self._apply(uow, account, previous, CLEAR_STATE, always_announce=True)

    def _apply(self, uow: UnitOfWork, account: Account, previous: OverdueState, nxt: OverdueState, *,
               always_announce: bool = False) -> None:
        if nxt.cancellation_policy is not CancellationPolicy.NONE:
            self._cancel_subscriptions(uow, account, nxt.cancellation_policy)
        blocked, unblocked = (not previous.disable_entitlement and nxt.disable_entitlement,
                              previous.disable_entitlement and not nxt.disable_entitlement)
        owner = ObjectOwner(account.record_id, account.id)
        definition = BUILT_IN_NAMES[AUTO_INVOICING_OFF].id
        if blocked:
            self.tags.add(uow, owner, account.id, ObjectType.ACCOUNT, definition)
        elif unblocked and AUTO_INVOICING_OFF in self.tags.control_tags(uow, [account.record_id])[account.record_id]:
            self.tags.remove(uow, owner, account.id, ObjectType.ACCOUNT, definition)
        if previous.name != nxt.name or always_announce:
            self.entitlements.add_blocking_state(
                uow, BlockingStateType.ACCOUNT, account.id, nxt.name, OVERDUE_SERVICE, block_change=nxt.blocks_changes,
                block_entitlement=nxt.disable_entitlement, block_billing=nxt.disable_entitlement)
        uow.post(OverdueChangeEvent(
            tenant_record_id=uow.tenant, account_record_id=account.record_id, account_id=account.id,
            object_id=account.id, user_token=uow.ctx.user_token, previous_overdue_state_name=previous.name,
            next_overdue_state_name=nxt.name, is_blocked_billing=blocked, is_unblocked_billing=unblocked))

    def _cancel_subscriptions(self, uow: UnitOfWork, account: Account, policy: CancellationPolicy) -> None:
        """Every base and standalone subscription still running is cancelled with the state's policy (add-ons
        follow their base), as Kill Bill's `OverdueStateApplicator.cancelSubscriptionsIfRequired` does."""
        acc = self.entitlements.locked(uow, account, catalog_required=False)
        billing = BillingActionPolicy.IMMEDIATE if policy is CancellationPolicy.IMMEDIATE \
            else BillingActionPolicy.END_OF_TERM
        for sub in list(acc.subscriptions):
            if sub.category is ProductCategory.ADD_ON or (view := build_view(acc, sub, uow.now)).ended \
                    or view.billing_end is not None:
                continue
            self.entitlements.cancel(uow, sub.id, entitlement_policy=EntitlementActionPolicy.IMMEDIATE,
                                     billing_policy=billing)

    # -- re-evaluation checks --------------------------------------------------------------------------------
    def _schedule_check(self, uow: UnitOfWork, account: Account, config: OverdueConfig, nxt: OverdueState, *,
                        has_unpaid: bool) -> None:
        """The next check at the state's interval (the initial one once clear, while something is unpaid); a clear
        account with nothing unpaid has none. An earlier check already scheduled is kept (Kill Bill's
        `OverduePoster`: the earliest wins)."""
        interval: Duration | None = config.initial_reevaluation if nxt.is_clear else nxt.auto_reevaluation
        if nxt.is_clear and not has_unpaid:
            self._remove_checks(uow, account)
            return
        if interval is None or not interval.is_set:
            return
        when = _plus(uow.now, interval)
        if any(d <= when for d in self.bus.future_dates(uow, CHECK_QUEUE, account.record_id)):
            return
        self._remove_checks(uow, account)
        self.bus.schedule(uow, CHECK_QUEUE, {"account_id": account.id}, when, account_record_id=account.record_id)

    def _remove_checks(self, uow: UnitOfWork, account: Account) -> None:
        self.bus.remove_future(uow, CHECK_QUEUE, account.record_id, lambda _payload: True)


def _plus(instant: datetime, d: Duration) -> datetime:
    return instant + {"DAYS": relativedelta(days=d.number), "WEEKS": relativedelta(weeks=d.number),
                      "MONTHS": relativedelta(months=d.number), "YEARS": relativedelta(years=d.number)}[d.unit.value]
