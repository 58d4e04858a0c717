"""The entitlement service's internal API: every operation in the caller's unit of work.

Each write opens the same way (find the account, take its lock, load its entitlements, check), decides
with the pure rules of `decisions.py`, stores what was asked (events and blocking states, audited), and
announces it (`announce.py`). The user API (`service.py`) wraps each call in a transaction; services
above (invoice, overdue, bulk loads) call these directly in theirs. Kill Bill's `EntitlementInternalApi`
and `SubscriptionBaseInternalApi`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from billow.account.internal import AccountInternalApi
from billow.account.model import Account
from billow.catalog.internal import CatalogInternalApi
from billow.catalog.model import Catalog, Plan, ProductCategory
from billow.core.db import UnitOfWork
from billow.core.errors import Conflict, InvalidInput
from billow.entitlement import events as ev
from billow.entitlement import store
from billow.entitlement.announce import Announcer, subscription_event
from billow.entitlement.dates import effective_date_for_new_bcd
from billow.entitlement.decisions import (
    Requested,
    addons_left_behind,
    category_of,
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
    BillingActionPolicy,
    BlockingState,
    BlockingStateType,
    Bundle,
    EntitlementActionPolicy,
    Subscription,
    SubscriptionEventType,
    SubscriptionRequest,
)
from billow.entitlement.timeline import transitions
from billow.entitlement.views import AccountEntitlements, build_view
from billow.entitlement.what_if import what_if


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
        if not requests:
            raise InvalidInput("body: at least one subscription needs to be given")
        account_ids = {r.account_id for r in requests}
        if len(account_ids) != 1 or None in account_ids or "" in account_ids:
            raise InvalidInput("accountId: needs to be set, and be the same for every subscription")
        for req in requests:
            if req.quantity is not None and req.quantity < 1:
                raise InvalidInput("quantity: must be at least 1")
        account = self.accounts.get(uow, requests[0].account_id)
        if account.currency is None:
            raise InvalidInput(f"currency: account {account.id} has no currency: set it before subscribing")
        acc = self.locked(uow, account)
        now = uow.now
        ent_at = account.time.requested(entitlement_date, now)
        bill_at = account.time.requested(billing_date, now) if billing_date is not None else ent_at
        created: list[Subscription] = []
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
                bundle = self._new_bundle(uow, acc, req.bundle_external_key, ent_at)
            bundle_start = base.start_date if (category is ProductCategory.ADD_ON and base is not None) else bill_at
            sub = self._insert_subscription(uow, acc, bundle, plan, price_list, category, req, ent_at, bill_at,
                                            bundle_start, migrated)
            if category is ProductCategory.BASE:
                base = sub
            created.append(sub)
            acc.subscriptions.append(sub)
        for sub in created:
            self.announcer.announce(uow, acc, sub.id, before=[], before_states=[])
        return created

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
                    when: datetime) -> Bundle:
        bundle_id = str(uuid.uuid4())
        key = external_key or bundle_id
        for b in store.bundles_by_key(uow.conn, uow.tenant, key):
            if self._bundle_is_active(uow, b):
                raise Conflict(f"Active bundle with external key {key} already exists", code=1014,
                               class_name=SUBSCRIPTION_EXCEPTION)
        row = uow.insert("bundles", {"id": bundle_id, "external_key": key, "account_id": acc.account.id,
                                     "account_record_id": acc.account.record_id, "original_created_date": uow.now})
        bundle = store.to_bundle(row)
        acc.bundles[bundle.id] = bundle
        return bundle

    def _bundle_is_active(self, uow: UnitOfWork, bundle: Bundle) -> bool:
        acc = self.load(uow, self.accounts.by_record_id(uow, bundle.account_record_id))
        return any(s.bundle_id == bundle.id and not build_view(acc, s, uow.now).ended for s in acc.subscriptions)

    def _insert_subscription(self, uow: UnitOfWork, acc: AccountEntitlements, bundle: Bundle, plan: Plan,
                             price_list: str | None, category: ProductCategory, req: SubscriptionRequest,
                             ent_at: datetime, bill_at: datetime, bundle_start: datetime,
                             migrated: bool) -> Subscription:
        sub_id = str(uuid.uuid4())
        key = req.external_key or sub_id
        if store.subscription_by_key(uow.conn, uow.tenant, key) is not None:
            raise Conflict(f"Subscription with external key {key} already exists", code=1014,
                           class_name=SUBSCRIPTION_EXCEPTION)
        account = acc.account
        row = uow.insert("subscriptions", {
            "id": sub_id, "bundle_id": bundle.id, "account_id": account.id, "account_record_id": account.record_id,
            "category": category.value, "external_key": key, "start_date": bill_at, "bundle_start_date": bundle_start,
            "charged_through_date": None, "migrated": migrated})
        event_row = uow.insert("subscription_events", store.event_values(
            sub_id, SubscriptionEventType.CREATE, bill_at, account_record_id=account.record_id, plan_name=plan.name,
            price_list_name=price_list,
            phase_align_date=phase_align_date(acc.catalog, plan, category, bill_at, bundle_start),
            initial_phase_type=req.phase_type, quantity=req.quantity, price_overrides=req.price_overrides))
        state_row = uow.insert("blocking_states", store.blocking_state_values(
            account.record_id, sub_id, BlockingStateType.SUBSCRIPTION, ENT_STARTED, ENTITLEMENT_SERVICE,
            block_change=False, block_entitlement=False, block_billing=False, effective_date=ent_at))
        acc.blocking.append(store.to_blocking_state(state_row))
        return store.to_subscription(row, [store.to_event(event_row)])

    # ============================================================ change
    def change_plan(self, uow: UnitOfWork, subscription_id: str, req: SubscriptionRequest, *,
                    requested_date: Requested = None, policy: BillingActionPolicy | None = None) -> Subscription:
        acc, sub = self._locked_subscription(uow, subscription_id)
        now = uow.now
        change = decide_change(acc, sub, req, requested_date, policy, now)
        before, before_states = transitions(sub, acc.catalog), list(acc.blocking)
        # a new change replaces a pending one
        for e in sub.events:
            if e.is_active and e.event_type is SubscriptionEventType.CHANGE and e.effective_date > now:
                uow.update("subscription_events", e.record_id, {"is_active": False})
        uow.insert("subscription_events", {**change.row, "account_record_id": acc.account.record_id})
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
