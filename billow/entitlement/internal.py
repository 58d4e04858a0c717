"""The entitlement service's internal API: every operation in the caller's unit of work.

Each write opens the same way (find the account, take its lock, load its entitlements, check), decides
with the pure rules of `decisions.py`, stores what was asked (events and blocking states, audited), and
announces it (`announce.py`). The user API (`service.py`) wraps each call in a transaction; services
above (invoice, overdue, bulk loads) call these directly in theirs. Kill Bill's `EntitlementInternalApi`
and `SubscriptionBaseInternalApi`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from billow.account.internal import AccountInternalApi
from billow.account.model import Account
from billow.catalog.internal import CatalogInternalApi
from billow.catalog.model import Catalog, Plan, ProductCategory
from billow.core.db import UnitOfWork
from billow.core.db.export import TableDump, audited_rows
from billow.core.errors import BillowError, Conflict, InvalidInput
from billow.core.limits import check_amount, check_text
from billow.entitlement import events as ev
from billow.entitlement import store
from billow.entitlement.announce import Announcer, subscription_event
from billow.entitlement.creation import AccountCreation, NewRows
from billow.entitlement.dates import effective_date_for_new_bcd
from billow.entitlement.decisions import (
    Requested,
    addons_left_behind,
    category_of,
    change_rows,
    check_addon_allowed,
    check_plans_allowed,
    decide_cancel,
    decide_change,
    live_addons,
    phase_align_date,
    plan_for,
)
from billow.entitlement.errors import (
    SUBSCRIPTION_EXCEPTION,
    bundle_not_found,
    entitlement_error,
    no_catalog,
    sub_error,
    subscription_not_found,
)
from billow.entitlement.model import (
    ENT_BLOCKED,
    ENT_CANCELLED,
    ENT_CLEAR,
    ENT_STARTED,
    ENTITLEMENT_SERVICE,
    BcdTransfer,
    BillingActionPolicy,
    BlockingState,
    BlockingStateType,
    Bundle,
    EntitlementActionPolicy,
    Subscription,
    SubscriptionEventType,
    SubscriptionRequest,
)
from billow.entitlement.store import renamed_key
from billow.entitlement.timeline import transitions
from billow.entitlement.transfer import SubscriptionMove, transfer_moves
from billow.entitlement.views import AccountEntitlements, build_view
from billow.entitlement.what_if import what_if


def check_request(req: SubscriptionRequest) -> None:
    """What a subscription request must be before anything is read: a quantity of at least 1, a bill cycle
    day of 1 to 31 (as `update_bcd`), prices within the money columns, keys within theirs (255)."""
    if req.quantity is not None and req.quantity < 1:
        raise InvalidInput("quantity: must be at least 1")
    if req.bill_cycle_day_local is not None and not 1 <= req.bill_cycle_day_local <= 31:
        raise InvalidInput(f"billCycleDayLocal: {req.bill_cycle_day_local} is not between 1 and 31")
    check_text("externalKey", req.external_key, 255)
    check_text("bundleExternalKey", req.bundle_external_key, 255)
    for o in req.price_overrides:
        check_amount("priceOverrides.fixedPrice", o.fixed_price)
        check_amount("priceOverrides.recurringPrice", o.recurring_price)


def _check_requests(requests: Sequence[SubscriptionRequest]) -> None:
    if not requests:
        raise InvalidInput("body: at least one subscription needs to be given")
    account_ids = {r.account_id for r in requests}
    if len(account_ids) != 1 or None in account_ids or "" in account_ids:
        raise InvalidInput("accountId: needs to be set, and be the same for every subscription")
    for req in requests:
        check_request(req)


def _check_currency(account: Account) -> None:
    if account.currency is None:
        raise InvalidInput(f"currency: account {account.id} has no currency: set it before subscribing")


class EntitlementInternalApi:
    def __init__(self, accounts: AccountInternalApi, catalogs: CatalogInternalApi, announcer: Announcer) -> None:
        self.accounts = accounts
        self.catalogs = catalogs
        self.announcer = announcer

    # ============================================================ loading
    def catalog(self, uow: UnitOfWork) -> Catalog:
        catalog = self.catalogs.catalog(uow)
        if catalog is None or len(catalog) == 0:
            raise no_catalog()
        return catalog

    def load(self, uow: UnitOfWork, account: Account, *, catalog_required: bool = True) -> AccountEntitlements:
        """The account's subscriptions, bundles and blocking states, and the tenant's catalog (which may be
        missing only when asked for an account that has no subscription)."""
        subs = store.subscriptions_of_account(uow.conn, uow.tenant, account.record_id)
        blocking = store.blocking_states_of_account(uow.conn, uow.tenant, account.record_id)
        bundles = {b.id: b for b in store.bundles_of_account(uow.conn, uow.tenant, account.record_id)}
        needed = bool(subs) or catalog_required
        catalog = self.catalog(uow) if needed else (self.catalogs.catalog(uow) or Catalog.of([]))
        return AccountEntitlements(account, catalog, subs, blocking, bundles)

    def blocking_states(self, uow: UnitOfWork, account: Account) -> list[BlockingState]:
        """The account's active blocking states (every type and service), by effective date."""
        return store.blocking_states_of_account(uow.conn, uow.tenant, account.record_id)

    def locked(self, uow: UnitOfWork, account: Account, *, catalog_required: bool = True) -> AccountEntitlements:
        """Take the account lock, then load (the opening of every write)."""
        uow.lock_account(account.record_id)
        return self.load(uow, account, catalog_required=catalog_required)

    def account_of_subscription(self, uow: UnitOfWork, subscription_id: str) -> Account:
        sub = store.subscription_by_id(uow.conn, uow.tenant, subscription_id)
        if sub is None:
            raise subscription_not_found(subscription_id)
        return self.accounts.by_record_id(uow, sub.account_record_id)

    def account_of_bundle(self, uow: UnitOfWork, bundle_id: str) -> Account:
        bundle = store.bundle_by_id(uow.conn, uow.tenant, bundle_id)
        if bundle is None:
            raise bundle_not_found(bundle_id)
        return self.accounts.by_record_id(uow, bundle.account_record_id)

    def _locked_subscription(self, uow: UnitOfWork, subscription_id: str) -> tuple[AccountEntitlements,
                                                                                   Subscription]:
        acc = self.locked(uow, self.account_of_subscription(uow, subscription_id))
        sub = acc.sub(subscription_id)
        assert sub is not None
        return acc, sub

    def _reload(self, uow: UnitOfWork, acc: AccountEntitlements) -> AccountEntitlements:
        return self.load(uow, acc.account)

    # ============================================================ for the services above
    def billing_inputs(self, uow: UnitOfWork, account_record_ids: list[int]
                       ) -> dict[int, tuple[list[Subscription], list[BlockingState]]]:
        """What the junction needs for many accounts (the billing run's batches), in two queries."""
        subs = store.subscriptions_of_accounts(uow.conn, uow.tenant, account_record_ids)
        blocking = store.blocking_states_of_accounts(uow.conn, uow.tenant, account_record_ids)
        return {a: (subs.get(a, []), blocking.get(a, [])) for a in account_record_ids}

    def export(self, uow: UnitOfWork, account: Account) -> list[TableDump]:
        """The account's rows of the entitlement tables, with their history (account export)."""
        return [dump for name in ("bundles", "subscriptions", "subscription_events", "blocking_states")
                for dump in audited_rows(uow, name, account.record_id)]

    def accounts_and_entitlement_ends(self, uow: UnitOfWork, subscription_ids: Collection[str]
                                      ) -> dict[str, tuple[int, datetime | None]]:
        """For usage recording: each subscription found in the tenant, with its account's record id and its
        entitlement end date (None while not cancelled), in two queries whatever their number."""
        return store.accounts_and_entitlement_ends(uow.conn, uow.tenant, list(subscription_ids))

    def what_if(self, uow: UnitOfWork, account: Account, action: str, *, subscription_id: str | None = None,
                bundle_id: str | None = None, req: SubscriptionRequest | None = None, effective: Requested = None,
                billing_policy: BillingActionPolicy | None = None
                ) -> tuple[list[Subscription], list[BlockingState]]:
        """The account's subscriptions as they would be after an action (a dry run); nothing is written."""
        return what_if(self.load(uow, account), action, uow.now, subscription_id=subscription_id,
                       bundle_id=bundle_id, req=req, effective=effective, billing_policy=billing_policy)

    def update_charged_through_dates(self, uow: UnitOfWork, dates: dict[str, datetime]) -> None:
        """Invoicing sets each subscription's charged-through date (it replaces the stored one)."""
        if not dates:
            return
        rows = store.charged_through_dates(uow.conn, uow.tenant, list(dates))
        changes = {record_id: {"charged_through_date": dates[sub_id]}
                   for record_id, sub_id, current in rows if current != dates[sub_id]}
        uow.update_many("subscriptions", changes)

    # ============================================================ create
    def create(self, uow: UnitOfWork, requests: Sequence[SubscriptionRequest], *,
               entitlement_date: Requested = None, billing_date: Requested = None,
               migrated: bool = False) -> list[Subscription]:
        """A base (or standalone) with its add-ons, or add-ons to an existing bundle (Kill Bill's
        `createBaseEntitlementWithAddOns`)."""
        _check_requests(requests)
        account = self.accounts.get(uow, requests[0].account_id)
        _check_currency(account)
        rows = NewRows()
        creation = self._decide_creation(uow, self.locked(uow, account), requests, rows,
                                         entitlement_date=entitlement_date, billing_date=billing_date,
                                         migrated=migrated)
        self._write_creations(uow, rows)
        return creation.created()

    def create_for_new_accounts(self, uow: UnitOfWork,
                                items: Sequence[tuple[Account, Sequence[SubscriptionRequest]]]
                                ) -> list[list[Subscription]]:
        """The subscriptions of accounts created in this unit of work (a bulk load), each account's as `create`
        makes them. Those accounts have nothing yet and no other transaction sees them, so nothing is locked
        or read but the catalog; every table is written once for all of them. An error names its item
        (`BillowError.item`)."""
        rows = NewRows()
        catalog: Catalog | None = None
        for i, (account, requests) in enumerate(items):
            if not requests:
                continue
            try:
                _check_requests(requests)
                if requests[0].account_id != account.id:
                    raise InvalidInput(f"accountId: {requests[0].account_id} is not the new account {account.id}")
                _check_currency(account)
                catalog = catalog or self.catalog(uow)
                self._decide_creation(uow, AccountEntitlements(account, catalog, [], [], {}), requests, rows)
            except BillowError as e:
                e.item = i
                raise
        self._write_creations(uow, rows)
        created = {c.acc.account.id: c.created() for c in rows.creations}
        return [created.get(account.id, []) for account, _ in items]

    def _write_creations(self, uow: UnitOfWork, rows: NewRows) -> None:
        rows.write(uow)
        for creation in rows.creations:
            for sub_id in creation.subscription_ids:
                self.announcer.announce(uow, creation.acc, sub_id, before=[], before_states=[])

    def _decide_creation(self, uow: UnitOfWork, acc: AccountEntitlements, requests: Sequence[SubscriptionRequest],
                         rows: NewRows, *, entitlement_date: Requested = None, billing_date: Requested = None,
                         migrated: bool = False) -> AccountCreation:
        """Decide the rows of one account's new subscriptions (into `rows`), against its entitlements."""
        account = acc.account
        now = uow.now
        ent_at = account.time.requested(entitlement_date, now)
        bill_at = account.time.requested(billing_date, now) if billing_date is not None else ent_at
        creation = AccountCreation(acc)
        rows.creations.append(creation)
        bundle: Bundle | None = None
        base: Subscription | None = None
        for req in requests:
            plan, price_list = plan_for(acc.catalog, req, bill_at)
            category = category_of(acc.catalog, plan, bill_at)
            if req.product_category is not None and req.product_category is not category:
                raise InvalidInput(f"productCategory: plan {plan.name} is a {category.value} plan, "
                                   f"not {req.product_category.value}")
            if category is ProductCategory.ADD_ON:
                if bundle is None:
                    bundle = self._existing_bundle(acc, req)
                    base = acc.base_of(bundle.id)
                if base is None:
                    raise sub_error(1013, f"Missing Base Subscription for bundle {bundle.id}")
                check_addon_allowed(acc, base, plan, bill_at, now)
                check_plans_allowed(acc, bundle.id, plan, bill_at)
            elif req.bundle_id is not None:
                existing = self._existing_bundle(acc, req)
                if category is ProductCategory.BASE and any(
                        s.bundle_id == existing.id and s.category is ProductCategory.BASE
                        and not build_view(acc, s, now).ended for s in acc.subscriptions):
                    raise sub_error(1015, f"Subscription bundle {existing.id} already has a base subscription")
                bundle = existing
            elif bundle is None or category is ProductCategory.BASE:
                bundle = self._new_bundle(uow, acc, req.bundle_external_key, ent_at, rows)
            bundle_start = base.start_date if (category is ProductCategory.ADD_ON and base is not None) else bill_at
            sub = self._new_subscription(uow, acc, bundle, plan, price_list, category, req, ent_at, bill_at,
                                         bundle_start, migrated, rows)
            if category is ProductCategory.BASE:
                base = sub
            creation.subscription_ids.append(sub.id)
            acc.subscriptions.append(sub)
        return creation

    def _existing_bundle(self, acc: AccountEntitlements, req: SubscriptionRequest) -> Bundle:
        if req.bundle_id is not None:
            bundle = acc.bundles.get(req.bundle_id)
            if bundle is None:
                raise sub_error(1012, f"Bundle {req.bundle_id} does not exist", status=404)
            return bundle
        if req.bundle_external_key is not None:
            found = [b for b in acc.bundles.values() if b.external_key == req.bundle_external_key]
            if found:
                return found[-1]
            raise sub_error(1083, f"Could not find a bundle matching key {req.bundle_external_key}", status=404)
        raise InvalidInput("bundleId: an add-on needs the bundleId (or bundleExternalKey) of its base")

    def _new_bundle(self, uow: UnitOfWork, acc: AccountEntitlements, external_key: str | None,
                    when: datetime, rows: NewRows) -> Bundle:
        bundle_id = str(uuid.uuid4())
        key = external_key or bundle_id
        # a key of our own making (the new id) is in use nowhere: only a given one is looked up
        if external_key is not None and (key in rows.bundle_keys or any(
                self._bundle_is_active(uow, b) for b in store.bundles_by_key(uow.conn, uow.tenant, key))):
            raise Conflict(f"Active bundle with external key {key} already exists", code=1014,
                           class_name=SUBSCRIPTION_EXCEPTION)
        rows.bundle_keys.add(key)
        values = {"id": bundle_id, "external_key": key, "account_id": acc.account.id,
                  "account_record_id": acc.account.record_id, "original_created_date": uow.now}
        rows.bundles.append(values)
        bundle = store.to_bundle(rows.provisional(values, uow.now))
        acc.bundles[bundle.id] = bundle
        return bundle

    def _bundle_is_active(self, uow: UnitOfWork, bundle: Bundle) -> bool:
        acc = self.load(uow, self.accounts.by_record_id(uow, bundle.account_record_id))
        return any(s.bundle_id == bundle.id and not build_view(acc, s, uow.now).ended for s in acc.subscriptions)

    def _new_subscription(self, uow: UnitOfWork, acc: AccountEntitlements, bundle: Bundle, plan: Plan,
                          price_list: str | None, category: ProductCategory, req: SubscriptionRequest,
                          ent_at: datetime, bill_at: datetime, bundle_start: datetime,
                          migrated: bool, rows: NewRows) -> Subscription:
        sub_id = str(uuid.uuid4())
        key = req.external_key or sub_id
        if req.external_key is not None and (
                key in rows.subscription_keys or store.subscription_by_key(uow.conn, uow.tenant, key) is not None):
            raise Conflict(f"Subscription with external key {key} already exists", code=1014,
                           class_name=SUBSCRIPTION_EXCEPTION)
        rows.subscription_keys.add(key)
        account, now = acc.account, uow.now
        values = {
            "id": sub_id, "bundle_id": bundle.id, "account_id": account.id, "account_record_id": account.record_id,
            "category": category.value, "external_key": key, "start_date": bill_at, "bundle_start_date": bundle_start,
            "charged_through_date": None, "migrated": migrated}
        event_values = [store.event_values(
            sub_id, SubscriptionEventType.CREATE, bill_at, account_record_id=account.record_id, plan_name=plan.name,
            price_list_name=price_list,
            phase_align_date=phase_align_date(acc.catalog, plan, category, bill_at, bundle_start),
            initial_phase_type=req.phase_type, quantity=req.quantity, price_overrides=req.price_overrides)]
        if req.bill_cycle_day_local is not None:
            # a BCD given at creation is a BCD_CHANGE effective with the CREATE (Kill Bill's
            # DefaultSubscriptionBaseApiService.getEventsOnCreation)
            event_values.append(store.event_values(
                sub_id, SubscriptionEventType.BCD_CHANGE, bill_at, account_record_id=account.record_id,
                bill_cycle_day_local=req.bill_cycle_day_local))
        state_values = store.blocking_state_values(
            account.record_id, sub_id, BlockingStateType.SUBSCRIPTION, ENT_STARTED, ENTITLEMENT_SERVICE,
            block_change=False, block_entitlement=False, block_billing=False, effective_date=ent_at)
        for v in (*event_values, state_values):
            v["id"] = str(uuid.uuid4())
        rows.subscriptions.append(values)
        rows.events.extend(event_values)
        rows.states.append(state_values)
        acc.blocking.append(store.to_blocking_state(rows.provisional(state_values, now)))
        return store.to_subscription(rows.provisional(values, now),
                                     [store.to_event(rows.provisional(v, now)) for v in event_values])

    # ============================================================ change
    def change_plan(self, uow: UnitOfWork, subscription_id: str, req: SubscriptionRequest, *,
                    requested_date: Requested = None, policy: BillingActionPolicy | None = None) -> Subscription:
        check_request(req)
        acc, sub = self._locked_subscription(uow, subscription_id)
        now = uow.now
        change = decide_change(acc, sub, req, requested_date, policy, now)
        before, before_states = transitions(sub, acc.catalog), list(acc.blocking)
        # a new change replaces the changes at or after its date (and the creation, on the start instant)
        row, replaced = change_rows(sub, change)
        for e in replaced:
            uow.update("subscription_events", e.record_id, {"is_active": False})
        uow.insert("subscription_events", {**row, "account_record_id": acc.account.record_id})
        acc = self._reload(uow, acc)
        self.announcer.announce(uow, acc, sub.id, before=before, before_states=before_states)
        if sub.category is ProductCategory.BASE:
            for addon in addons_left_behind(acc, sub, change.target, change.when, now):
                when = max(change.when, addon.start_date)
                acc = self._write_cancel(uow, acc, addon, when, when)
        changed = acc.sub(sub.id)
        assert changed is not None
        return changed

    def undo_change(self, uow: UnitOfWork, subscription_id: str) -> None:
        acc, sub = self._locked_subscription(uow, subscription_id)
        pending = [e for e in sub.events if e.is_active and e.event_type is SubscriptionEventType.CHANGE
                   and e.effective_date > uow.now]
        if not pending:
            raise sub_error(1023, f"Invalid change plan for subscription {sub.id}: there is no pending change "
                                  "to undo")
        before = transitions(sub, acc.catalog)
        for e in pending:
            uow.update("subscription_events", e.record_id, {"is_active": False})
        acc = self._reload(uow, acc)
        self.announcer.announce(uow, acc, sub.id, before=before, before_states=list(acc.blocking))
        uow.post(subscription_event(ev.SubscriptionChangeEvent, uow, acc, sub, uow.now, undo=True))

    # ============================================================ cancel
    def cancel(self, uow: UnitOfWork, subscription_id: str, *, requested_date: Requested = None,
               entitlement_policy: EntitlementActionPolicy | None = None,
               billing_policy: BillingActionPolicy | None = None,
               use_requested_date_for_billing: bool = False) -> None:
        """Kill Bill's `cancelSubscriptionPlan` with its four combinations of date and policies; a base takes
        its add-ons with it."""
        acc, sub = self._locked_subscription(uow, subscription_id)
        now = uow.now
        ent_date, bill_date = decide_cancel(acc, sub, now, requested_date, entitlement_policy, billing_policy,
                                            use_requested_date_for_billing)
        addons = live_addons(acc, sub, now) if sub.category is ProductCategory.BASE else []
        acc = self._write_cancel(uow, acc, sub, ent_date, bill_date)
        for addon in addons:
            acc = self._write_cancel(uow, acc, addon, max(ent_date, addon.start_date),
                                     max(bill_date, addon.start_date))

    def cancel_all(self, uow: UnitOfWork, account: Account) -> list[str]:
        """Closing an account with `cancelAllSubscriptions` (`AccountResource.closeAccount`): every subscription
        that is not an add-on and has no billing end yet is cancelled, entitlement IMMEDIATE and billing
        END_OF_TERM (a base takes its add-ons with it); the ids of the subscriptions cancelled. One whose
        entitlement has already ended is passed over (Kill Bill would refuse it and stop half-way)."""
        acc = self.locked(uow, account, catalog_required=False)
        chosen = [s.id for s in acc.subscriptions if s.category is not ProductCategory.ADD_ON
                  and (view := build_view(acc, s, uow.now)).billing_end is None and not view.ended]
        for sub_id in chosen:
            self.cancel(uow, sub_id, entitlement_policy=EntitlementActionPolicy.IMMEDIATE,
                        billing_policy=BillingActionPolicy.END_OF_TERM)
        return chosen

    def _write_cancel(self, uow: UnitOfWork, acc: AccountEntitlements, sub: Subscription, ent_date: datetime,
                      bill_date: datetime) -> AccountEntitlements:
        current = acc.sub(sub.id) or sub
        before, before_states = transitions(current, acc.catalog), list(acc.blocking)
        uow.insert("subscription_events", store.event_values(
            sub.id, SubscriptionEventType.CANCEL, bill_date, account_record_id=acc.account.record_id))
        uow.insert("blocking_states", store.blocking_state_values(
            acc.account.record_id, sub.id, BlockingStateType.SUBSCRIPTION, ENT_CANCELLED, ENTITLEMENT_SERVICE,
            block_change=True, block_entitlement=True, block_billing=False, effective_date=ent_date))
        acc = self._reload(uow, acc)
        self.announcer.announce(uow, acc, sub.id, before=before, before_states=before_states)
        return acc

    def uncancel(self, uow: UnitOfWork, subscription_id: str) -> None:
        acc, sub = self._locked_subscription(uow, subscription_id)
        now = uow.now
        cancels = [e for e in sub.events if e.is_active and e.event_type is SubscriptionEventType.CANCEL]
        states = [s for s in acc.blocking if s.blockable_id == sub.id and s.state_name == ENT_CANCELLED]
        if not cancels or any(e.effective_date <= now for e in cancels) or any(
                s.effective_date <= now for s in states):
            raise sub_error(1070, f"Subscription {sub.id} was not in a cancelled state: Failed to uncancel plan")
        before, before_states = transitions(sub, acc.catalog), list(acc.blocking)
        for e in cancels:
            uow.update("subscription_events", e.record_id, {"is_active": False})
        for s in states:
            uow.update("blocking_states", s.record_id, {"is_active": False})
        acc = self._reload(uow, acc)
        self.announcer.announce(uow, acc, sub.id, before=before, before_states=before_states)
        uow.post(subscription_event(ev.SubscriptionUncancelEvent, uow, acc, sub, now))

    # ============================================================ bill cycle day
    def update_bcd(self, uow: UnitOfWork, subscription_id: str, bcd: int, effective_from: date | None = None
                   ) -> None:
        if not 1 <= bcd <= 31:
            raise InvalidInput(f"billCycleDayLocal: {bcd} is not between 1 and 31")
        acc, sub = self._locked_subscription(uow, subscription_id)
        account = acc.account
        view = build_view(acc, sub, uow.now)
        if view.ended:
            raise sub_error(1031, f"Subscription {sub.id} is in state {view.state.value}: Failed to update BCD")
        day = effective_date_for_new_bcd(bcd, effective_from, today=account.time.local_date(uow.now),
                                         start=account.time.local_date(sub.start_date))
        when = max(account.time.requested(day, uow.now), sub.start_date)
        before = transitions(sub, acc.catalog)
        uow.insert("subscription_events", store.event_values(
            sub.id, SubscriptionEventType.BCD_CHANGE, when, account_record_id=account.record_id,
            bill_cycle_day_local=bcd))
        acc = self._reload(uow, acc)
        self.announcer.announce(uow, acc, sub.id, before=before, before_states=list(acc.blocking))

    # ============================================================ quantity
    def update_quantity(self, uow: UnitOfWork, subscription_id: str, quantity: int,
                        effective_from: date | None = None, *, force_past: bool = False) -> None:
        """Kill Bill's `updateSubscriptionQuantity` (`SubscriptionResource.updateSubscriptionInternal`,
        `DefaultSubscriptionInternalApi.updateQuantity`): a QUANTITY_CHANGE now, or at a later date's reference
        time; today is now; a past date only when forced (it may change what was invoiced). From then on the
        recurring and fixed prices are multiplied by the quantity, a change mid-period repaired like a plan's."""
        if quantity < 1:
            raise InvalidInput(f"quantity: {quantity} is not a quantity (at least 1)")
        acc, sub = self._locked_subscription(uow, subscription_id)
        time = acc.account.time
        when = uow.now
        if effective_from is not None and effective_from != time.local_date(uow.now):
            if effective_from < time.local_date(uow.now) and not force_past:
                raise InvalidInput("effectiveFromDate: Changing a subscription bcd or quantity in the past may have "
                                   "consequences on previous invoice generated. Use force flag to overrule this "
                                   "behavior")
            when = time.instant(effective_from)
        before, before_states = transitions(sub, acc.catalog), list(acc.blocking)
        uow.insert("subscription_events", store.event_values(
            sub.id, SubscriptionEventType.QUANTITY_CHANGE, when, account_record_id=acc.account.record_id,
            quantity=quantity))
        acc = self._reload(uow, acc)
        self.announcer.announce(uow, acc, sub.id, before=before, before_states=before_states)

    # ============================================================ bundles: key, transfer
    def rename_bundle_key(self, uow: UnitOfWork, bundle_id: str, external_key: str | None) -> None:
        """Kill Bill's `updateExternalKey`: the bundle takes the new key (no other check, nothing announced)."""
        if not external_key:
            raise InvalidInput("externalKey: BundleJson externalKey needs to be set")
        if len(external_key) > 255:
            raise InvalidInput("externalKey: longer than 255 characters")
        bundle = store.bundle_by_id(uow.conn, uow.tenant, bundle_id)
        if bundle is None:
            raise bundle_not_found(bundle_id)
        uow.lock_account(bundle.account_record_id)
        uow.update("bundles", bundle.record_id, {"external_key": external_key})

    def transfer_bundle(self, uow: UnitOfWork, bundle_id: str, destination_account_id: str, *,
                        requested_date: Requested = None,
                        billing_policy: BillingActionPolicy = BillingActionPolicy.END_OF_TERM,
                        bcd_transfer: BcdTransfer = BcdTransfer.USE_EXISTING,
                        subscription_keys: Mapping[str, str] | None = None) -> Bundle:
        """Move a bundle to another account (Kill Bill's `transferBundle`, see `transfer.py`): its subscriptions
        are cancelled on the source (and their entitlement ends at the transfer date), and a new bundle with
        the same key, on the destination, gets a copy of each from the transfer date. The source bundle's key is
        renamed `kbtsf-<n>:<key>`. Returns the new bundle."""
        if billing_policy not in (BillingActionPolicy.IMMEDIATE, BillingActionPolicy.END_OF_TERM):
            raise InvalidInput(f"billingPolicy: a transfer takes IMMEDIATE or END_OF_TERM, not {billing_policy.value}")
        bundle = store.bundle_by_id(uow.conn, uow.tenant, bundle_id)
        if bundle is None:
            raise bundle_not_found(bundle_id)
        destination = self.accounts.get(uow, destination_account_id)
        if destination.currency is None:
            raise InvalidInput(f"currency: account {destination.id} has no currency: set it before a transfer")
        source = self.accounts.by_record_id(uow, bundle.account_record_id)
        uow.lock_accounts([source.record_id, destination.record_id])
        acc = self.load(uow, source)
        now = uow.now
        transfer_at = _transfer_instant(source, requested_date, now)
        moves = transfer_moves(acc, bundle, transfer_at, immediate=billing_policy is BillingActionPolicy.IMMEDIATE,
                               bcd_transfer=bcd_transfer, now=now)
        # the source: each subscription still on stops billing (what followed is dropped), every entitlement ends
        for move in moves:
            if move.cancel_at is None:
                self._add_state(uow, acc, move.source.id, BlockingStateType.SUBSCRIPTION, ENT_CANCELLED,
                                ENTITLEMENT_SERVICE, True, True, False, transfer_at)
                continue
            for e in move.source.events:
                if e.is_active and e.effective_date >= move.cancel_at and e.event_type not in (
                        SubscriptionEventType.CREATE, SubscriptionEventType.TRANSFER):
                    uow.update("subscription_events", e.record_id, {"is_active": False})
            acc = self._write_cancel(uow, self._reload(uow, acc), move.source, transfer_at, move.cancel_at)
        for old in store.bundles_by_key(uow.conn, uow.tenant, bundle.external_key):
            uow.update("bundles", old.record_id, {"external_key": renamed_key(old.record_id, old.external_key)})
        # the destination: a new bundle with a copy of each subscription that moves
        row = uow.insert("bundles", {"external_key": bundle.external_key, "account_id": destination.id,
                                     "account_record_id": destination.record_id,
                                     "original_created_date": bundle.original_created_date})
        new_bundle = store.to_bundle(row)
        entitled_at = _transfer_instant(destination, requested_date, now)
        keys = subscription_keys or {}
        created: list[str] = []
        for move in moves:
            if not move.moves:
                continue
            created.append(self._insert_copy(uow, destination, new_bundle, move, transfer_at, entitled_at,
                                             keys.get(move.source.id)))
        dst = self.load(uow, destination)
        for sub_id in created:
            self.announcer.announce(uow, dst, sub_id, before=[], before_states=[])
        return new_bundle

    def _insert_copy(self, uow: UnitOfWork, destination: Account, bundle: Bundle, move: SubscriptionMove,
                     transfer_at: datetime, entitled_at: datetime, external_key: str | None) -> str:
        sub_id = str(uuid.uuid4())
        key = external_key or sub_id
        if store.subscription_by_key(uow.conn, uow.tenant, key) is not None:
            raise Conflict(f"Subscription with external key {key} already exists", code=1014,
                           class_name=SUBSCRIPTION_EXCEPTION)
        source = move.source
        uow.insert("subscriptions", {
            "id": sub_id, "bundle_id": bundle.id, "account_id": destination.id,
            "account_record_id": destination.record_id, "category": source.category.value, "external_key": key,
            "start_date": move.events[0]["effective_date"], "bundle_start_date": transfer_at,
            "charged_through_date": None, "migrated": False,
            "align_start_date": source.align_start_date or source.start_date})
        uow.insert_many("subscription_events", [
            {**e, "subscription_id": sub_id, "account_record_id": destination.record_id} for e in move.events])
        uow.insert("blocking_states", store.blocking_state_values(
            destination.record_id, sub_id, BlockingStateType.SUBSCRIPTION, ENT_STARTED, ENTITLEMENT_SERVICE,
            block_change=False, block_entitlement=False, block_billing=False, effective_date=entitled_at))
        return sub_id

    # ============================================================ pause, resume, blocking
    def pause_bundle(self, uow: UnitOfWork, bundle_id: str, requested_date: Requested = None) -> None:
        self._bundle_state(uow, bundle_id, requested_date, ENT_BLOCKED, True)

    def resume_bundle(self, uow: UnitOfWork, bundle_id: str, requested_date: Requested = None) -> None:
        self._bundle_state(uow, bundle_id, requested_date, ENT_CLEAR, False)

    def _bundle_state(self, uow: UnitOfWork, bundle_id: str, requested_date: Requested, state: str,
                      block: bool) -> None:
        acc = self.locked(uow, self.account_of_bundle(uow, bundle_id))
        when = acc.account.time.requested(requested_date, uow.now)
        live = [s for s in acc.subscriptions if s.bundle_id == bundle_id and not build_view(acc, s, uow.now).ended]
        if not live:
            raise sub_error(1099, f"No active subscriptions on bundle {bundle_id}")
        stream = [s for s in acc.blocking if s.blockable_id == bundle_id and s.service == ENTITLEMENT_SERVICE
                  and s.effective_date <= when]
        currently_blocked = bool(stream) and stream[-1].block_entitlement
        if block and currently_blocked:
            raise entitlement_error(8001, f"The blockable entity {bundle_id} is already blocked")
        if not block and not currently_blocked and not any(
                s.blockable_id == bundle_id and s.service == ENTITLEMENT_SERVICE and s.block_entitlement
                for s in acc.blocking):
            raise entitlement_error(8002, f"Bundle {bundle_id} is not paused")
        self._add_state(uow, acc, bundle_id, BlockingStateType.SUBSCRIPTION_BUNDLE, state, ENTITLEMENT_SERVICE,
                        block, block, block, when)

    def add_blocking_state(self, uow: UnitOfWork, type_: BlockingStateType, blockable_id: str, state_name: str,
                           service: str, block_change: bool, block_entitlement: bool, block_billing: bool,
                           requested_date: Requested = None) -> Account:
        if not state_name:
            raise InvalidInput("stateName: needs to be set")
        if not service:
            raise InvalidInput("service: needs to be set")
        check_text("stateName", state_name, 50)  # blocking_states.state and .service (Kill Bill's sizes)
        check_text("service", service, 50)
        if type_ is BlockingStateType.ACCOUNT:
            account = self.accounts.get(uow, blockable_id)
        elif type_ is BlockingStateType.SUBSCRIPTION_BUNDLE:
            account = self.account_of_bundle(uow, blockable_id)
        else:
            account = self.account_of_subscription(uow, blockable_id)
        acc = self.locked(uow, account, catalog_required=False)
        when = account.time.requested(requested_date, uow.now)
        self._add_state(uow, acc, blockable_id, type_, state_name, service, block_change, block_entitlement,
                        block_billing, when)
        return account

    def _add_state(self, uow: UnitOfWork, acc: AccountEntitlements, blockable_id: str, type_: BlockingStateType,
                   state: str, service: str, block_change: bool, block_entitlement: bool, block_billing: bool,
                   when: datetime) -> None:
        row = uow.insert("blocking_states", store.blocking_state_values(
            acc.account.record_id, blockable_id, type_, state, service, block_change=block_change,
            block_entitlement=block_entitlement, block_billing=block_billing, effective_date=when))
        new_state = store.to_blocking_state(row)
        acc.blocking.append(new_state)
        self.announcer.state_added(uow, acc, new_state)

    # ============================================================ notifications
    def on_notification(self, uow: UnitOfWork, payload: dict[str, Any]) -> None:
        """A scheduled transition or blocking state is due: announce it if it still stands."""
        if payload.get("kind") == "transition":
            sub = store.subscription_by_id(uow.conn, uow.tenant, payload["subscription_id"])
            if sub is None:
                return
            acc = self.load(uow, self.accounts.by_record_id(uow, sub.account_record_id))
            current = acc.sub(sub.id)
            assert current is not None
            for t in transitions(current, acc.catalog):
                if t.event_id == payload["event_id"] and t.effective_date <= uow.now:
                    self.announcer.publish_transition(uow, acc, current, t)
        elif payload.get("kind") == "state":
            found = store.blocking_state_by_id(uow.conn, uow.tenant, payload["id"])
            if found is None or not found[0].is_active:
                return
            state, account_record_id = found
            acc = self.load(uow, self.accounts.by_record_id(uow, account_record_id), catalog_required=False)
            self.announcer.publish_state(uow, acc, state)


def _transfer_instant(account: Account, requested: Requested, now: datetime) -> datetime:
    """A transfer's date as Kill Bill's `EntitlementDateHelper.fromLocalDateAndReferenceTime` reads it: a date at
    the account's reference time (today included), an instant as given, none is now."""
    if requested is None:
        return now
    if isinstance(requested, datetime):
        return account.time.requested(requested, now)
    return account.time.instant(requested)
