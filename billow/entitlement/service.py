"""The entitlement service: bundles and subscriptions, plan changes, cancellations, pause and
resume, bill cycle day changes and blocking states (billing-semantics.md Part 2).

Every write runs under the account lock, stores what was asked (events and blocking
states, with audit and history), announces what took effect now on the bus, and
schedules a notification for each transition that will take effect later.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from billow.account.model import Account
from billow.account.service import AccountService
from billow.catalog.engine import (
    PlanPhaseSpecifier,
    PlanSpecifier,
    cancel_policy,
    create_alignment,
    create_or_find_plan,
    is_addon_available,
    is_addon_included,
    plan_change_result,
)
from billow.catalog.errors import CatalogApiError
from billow.catalog.model import (
    BillingPeriod,
    Catalog,
    PhaseType,
    Plan,
    PlanAlignmentChange,
    PlanAlignmentCreate,
    ProductCategory,
)
from billow.catalog.service import CATALOG_EXCEPTION, CatalogService
from billow.core.context import CallContext
from billow.core.db import Database, UnitOfWork
from billow.core.errors import BillowError, Conflict, InvalidInput, NotFound
from billow.entitlement import events as ev
from billow.entitlement import store
from billow.entitlement.dates import effective_date_for_new_bcd, effective_date_for_policy, to_instant, zone
from billow.entitlement.model import (
    BILLING_SERVICE,
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
    PhasePriceOverride,
    Subscription,
    SubscriptionEvent,
    SubscriptionEventType,
    SubscriptionState,
)
from billow.entitlement.timeline import (
    Transition,
    blocked_intervals,
    current_transition,
    initial_phase_type_on_change,
    is_blocked_at,
    original_phase_type,
    transitions,
)

SUBSCRIPTION_EXCEPTION = "org.killbill.billing.subscription.api.user.SubscriptionBaseApiException"
ENTITLEMENT_EXCEPTION = "org.killbill.billing.entitlement.api.EntitlementApiException"
QUEUE = "entitlement-service:subscription-events"


def sub_error(code: int, message: str, status: int = 400) -> BillowError:
    return BillowError(message, code=code, class_name=SUBSCRIPTION_EXCEPTION, status=status)


def subscription_not_found(subscription_id: str) -> NotFound:
    return NotFound(f"Unknown subscription {subscription_id}", code=1082, class_name=SUBSCRIPTION_EXCEPTION)


def bundle_not_found(bundle_id: str) -> NotFound:
    return NotFound(f"Could not find a bundle matching id {bundle_id}", code=1081, class_name=SUBSCRIPTION_EXCEPTION)


def catalog_error(exc: CatalogApiError) -> BillowError:
    return BillowError(exc.message, code=exc.code, class_name=CATALOG_EXCEPTION, status=400)


@dataclass(frozen=True, slots=True)
class SubscriptionRequest:
    """What a caller asks for when creating a subscription (Kill Bill's EntitlementSpecifier)."""

    account_id: str
    plan_name: str | None = None
    product_name: str | None = None
    product_category: ProductCategory | None = None
    billing_period: BillingPeriod | None = None
    price_list: str | None = None
    external_key: str | None = None
    bundle_id: str | None = None
    bundle_external_key: str | None = None
    phase_type: PhaseType | None = None
    price_overrides: tuple[PhasePriceOverride, ...] = ()
    quantity: int | None = None

    def specifier(self) -> PlanSpecifier:
        return PlanSpecifier(plan_name=self.plan_name, product_name=self.product_name,
                             billing_period=self.billing_period, price_list_name=self.price_list)


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """A subscription with everything a reader needs: transitions, blocking, state, dates."""

    subscription: Subscription
    bundle: Bundle
    account: Account
    transitions: list[Transition]
    blocking_states: list[BlockingState]
    state: SubscriptionState
    entitlement_start: datetime | None
    entitlement_end: datetime | None
    billing_end: datetime | None
    current: Transition | None
    bill_cycle_day_local: int | None


@dataclass(frozen=True, slots=True)
class _Change:
    target: Plan
    when: datetime
    row: dict[str, Any]


@dataclass
class _Account:
    """What one write knows about its account, loaded once under the lock."""

    account: Account
    catalog: Catalog
    subscriptions: list[Subscription]
    blocking: list[BlockingState]
    bundles: dict[str, Bundle] = field(default_factory=dict)

    def sub(self, subscription_id: str) -> Subscription | None:
        return next((s for s in self.subscriptions if s.id == subscription_id), None)


class EntitlementService:
    def __init__(self, db: Database, accounts: AccountService, catalogs: CatalogService) -> None:
        self.db = db
        self.accounts = accounts
        self.catalogs = catalogs
        # set by listeners.install: schedules entitlement notifications
        self.schedule: Callable[[UnitOfWork, dict[str, Any], datetime, int], None] | None = None

    # ============================================================ loading
    def _catalog(self, ctx: CallContext) -> Catalog:
        catalog = self.catalogs.catalog(ctx)
        if catalog is None or len(catalog) == 0:
            raise BillowError("There is no catalog for this tenant: upload one first", code=2050,
                              class_name=CATALOG_EXCEPTION, status=400)
        return catalog

    def _load(self, conn: Any, ctx: CallContext, account: Account, *, catalog_required: bool = True) -> _Account:
        """The account's subscriptions, bundles and blocking states, and the tenant's catalog (which
        may be missing only when asked for an account that has no subscription)."""
        subs = store.subscriptions_of_account(conn, ctx.tenant, account.record_id)
        blocking = store.blocking_states_of_account(conn, ctx.tenant, account.record_id)
        bundles = {b.id: b for b in store.bundles_of_account(conn, ctx.tenant, account.record_id)}
        catalog = self._catalog(ctx) if subs or catalog_required else self.catalogs.catalog(ctx) or Catalog.of([])
        return _Account(account, catalog, subs, blocking, bundles)

    def _account_of_subscription(self, ctx: CallContext, subscription_id: str) -> Account:
        with self.db.read() as conn:
            sub = store.subscription_by_id(conn, ctx.tenant, subscription_id)
        if sub is None:
            raise subscription_not_found(subscription_id)
        return self.accounts.get_by_record_id(ctx, sub.account_record_id)

    def _account_of_bundle(self, ctx: CallContext, bundle_id: str) -> Account:
        with self.db.read() as conn:
            bundle = store.bundle_by_id(conn, ctx.tenant, bundle_id)
        if bundle is None:
            raise bundle_not_found(bundle_id)
        return self.accounts.get_by_record_id(ctx, bundle.account_record_id)

    # ============================================================ reads
    def view(self, ctx: CallContext, subscription_id: str) -> SubscriptionView:
        account = self._account_of_subscription(ctx, subscription_id)
        with self.db.read() as conn:
            acc = self._load(conn, ctx, account)
        sub = acc.sub(subscription_id)
        assert sub is not None
        return self._view(acc, sub)

    def view_by_key(self, ctx: CallContext, external_key: str) -> SubscriptionView:
        with self.db.read() as conn:
            sub = store.subscription_by_key(conn, ctx.tenant, external_key)
        if sub is None:
            raise NotFound(f"Unknown subscription {external_key}", code=1082, class_name=SUBSCRIPTION_EXCEPTION)
        return self.view(ctx, sub.id)

    def account_views(self, ctx: CallContext, account_id: str) -> tuple[Account, list[Bundle], list[SubscriptionView]]:
        account = self.accounts.get(ctx, account_id)
        with self.db.read() as conn:
            acc = self._load(conn, ctx, account, catalog_required=False)
        views = [self._view(acc, s) for s in acc.subscriptions]
        return account, list(acc.bundles.values()), views

    def bundle_views(self, ctx: CallContext, bundle_id: str) -> tuple[Bundle, list[SubscriptionView]]:
        account = self._account_of_bundle(ctx, bundle_id)
        _, bundles, views = self.account_views(ctx, account.id)
        bundle = next(b for b in bundles if b.id == bundle_id)
        return bundle, [v for v in views if v.subscription.bundle_id == bundle_id]

    def bundles_by_key(self, ctx: CallContext, external_key: str) -> list[tuple[Bundle, list[SubscriptionView]]]:
        with self.db.read() as conn:
            found = store.bundles_by_key(conn, ctx.tenant, external_key)
        if not found:
            raise NotFound(f"Could not find a bundle matching key {external_key}", code=1083,
                           class_name=SUBSCRIPTION_EXCEPTION)
        return [self.bundle_views(ctx, b.id) for b in found]

    def blocking_states(self, ctx: CallContext, account_id: str) -> list[BlockingState]:
        account = self.accounts.get(ctx, account_id)
        with self.db.read() as conn:
            return store.blocking_states_of_account(conn, ctx.tenant, account.record_id)

    def billing_inputs(self, ctx: CallContext, account: Account, conn: Any
                       ) -> tuple[list[Subscription], list[BlockingState], Catalog | None]:
        """What the junction needs for one account (one connection, three queries)."""
        subs = store.subscriptions_of_account(conn, ctx.tenant, account.record_id)
        blocking = store.blocking_states_of_account(conn, ctx.tenant, account.record_id)
        return subs, blocking, (self.catalogs.catalog(ctx) if subs else None)

    def billing_inputs_many(self, conn: Any, ctx: CallContext, account_record_ids: list[int]
                            ) -> dict[int, tuple[list[Subscription], list[BlockingState]]]:
        """What the junction needs for many accounts (the billing run's batches), in three queries."""
        subs = store.subscriptions_of_accounts(conn, ctx.tenant, account_record_ids)
        blocking = store.blocking_states_of_accounts(conn, ctx.tenant, account_record_ids)
        return {a: (subs.get(a, []), blocking.get(a, [])) for a in account_record_ids}

    def _view(self, acc: _Account, sub: Subscription) -> SubscriptionView:
        now = self.db.clock.utcnow()
        trans = transitions(sub, acc.catalog)
        bundle = acc.bundles[sub.bundle_id]
        states = self._states_for(acc, sub)
        ent_start = next((s.effective_date for s in states if s.service == ENTITLEMENT_SERVICE
                          and s.state_name == ENT_STARTED and s.blockable_id == sub.id), sub.start_date)
        ent_end = next((s.effective_date for s in states if s.service == ENTITLEMENT_SERVICE
                        and s.state_name == ENT_CANCELLED and s.blockable_id == sub.id), None)
        billing_end = next((t.effective_date for t in trans if t.ends), None)
        expired = next((t.effective_date for t in trans if t.type is SubscriptionEventType.EXPIRED), None)
        if ent_start > now:
            state = SubscriptionState.PENDING
        elif expired is not None and expired <= now:
            state = SubscriptionState.EXPIRED
        elif (ent_end is not None and ent_end <= now) or (billing_end is not None and billing_end <= now
                                                         and ent_end is None):
            state = SubscriptionState.CANCELLED
        elif is_blocked_at(blocked_intervals(states, "block_entitlement"), now):
            state = SubscriptionState.BLOCKED
        else:
            state = SubscriptionState.ACTIVE
        current = current_transition(trans, now) or (trans[0] if trans else None)
        bcd = _bcd_of(acc, sub, trans, now)
        return SubscriptionView(sub, bundle, acc.account, trans, states, state, ent_start, ent_end, billing_end,
                                current, bcd)

    @staticmethod
    def _states_for(acc: _Account, sub: Subscription) -> list[BlockingState]:
        return [s for s in acc.blocking
                if (s.type is BlockingStateType.SUBSCRIPTION and s.blockable_id == sub.id)
                or (s.type is BlockingStateType.SUBSCRIPTION_BUNDLE and s.blockable_id == sub.bundle_id)
                or (s.type is BlockingStateType.ACCOUNT and s.blockable_id == acc.account.id)]

    # ============================================================ create
    def create(self, ctx: CallContext, requests: Sequence[SubscriptionRequest], *,
               entitlement_date: datetime | date | None = None, billing_date: datetime | date | None = None,
               migrated: bool = False) -> list[Subscription]:
        """Create a base (or standalone) with its add-ons, or add-ons to an existing bundle, in one
        transaction (Kill Bill's `createBaseEntitlementWithAddOns`)."""
        if not requests:
            raise InvalidInput("body: at least one subscription needs to be given")
        account_ids = {r.account_id for r in requests}
        if len(account_ids) != 1 or None in account_ids or "" in account_ids:
            raise InvalidInput("accountId: needs to be set, and be the same for every subscription")
        account = self.accounts.get(ctx, requests[0].account_id)
        if account.currency is None:
            raise InvalidInput(f"currency: account {account.id} has no currency: set it before subscribing")
        created: list[Subscription] = []
        with self.db.transaction(ctx) as uow:
            uow.lock_account(account.record_id)
            acc = self._load(uow.conn, ctx, account)
            now = uow.now
            ent_at = to_instant(entitlement_date, now=now, time_zone=account.time_zone,
                                reference_time=account.reference_time)
            bill_at = to_instant(billing_date, now=now, time_zone=account.time_zone,
                                 reference_time=account.reference_time) if billing_date is not None else ent_at
            bundle: Bundle | None = None
            base: Subscription | None = None
            base_plan: Plan | None = None
            for req in requests:
                plan, price_list = self._plan_for(acc.catalog, req, bill_at)
                category = _category(acc.catalog, plan, bill_at)
                if req.product_category is not None and req.product_category is not category:
                    raise InvalidInput(f"productCategory: plan {plan.name} is a {category.value} plan, "
                                       f"not {req.product_category.value}")
                if category is ProductCategory.ADD_ON:
                    if bundle is None:
                        bundle = self._existing_bundle(uow, ctx, acc, req)
                        base = next((s for s in acc.subscriptions
                                     if s.bundle_id == bundle.id and s.category is ProductCategory.BASE), None)
                        if base is None:
                            raise sub_error(1013, f"Missing Base Subscription for bundle {bundle.id}")
                        base_view = self._view(acc, base)
                        if base_view.state in (SubscriptionState.CANCELLED, SubscriptionState.EXPIRED) or (
                                base_view.billing_end is not None and base_view.billing_end <= bill_at):
                            raise sub_error(1017, f"Can't create AddOn {plan.name} for non active Base Plan")
                        base_plan = base_view.current.plan if base_view.current else None
                    if base_plan is None and base is not None:
                        base_plan = transitions(base, acc.catalog)[0].plan
                    assert base_plan is not None
                    version = acc.catalog.version_for_date(bill_at)
                    if is_addon_included(version, base_plan.product, plan.product):
                        raise sub_error(1018, f"Can't create AddOn {plan.name} for BasePlan {base_plan.name} "
                                              "(Already included)")
                    if not is_addon_available(version, base_plan.product, plan.product):
                        raise sub_error(1019, f"Can't create AddOn {plan.name} for BasePlan {base_plan.name} "
                                              "(Not available)")
                    self._check_plans_allowed(acc, bundle.id, plan, bill_at)
                else:
                    if req.bundle_id is not None:
                        existing = self._existing_bundle(uow, ctx, acc, req)
                        if category is ProductCategory.BASE and any(
                                s.bundle_id == existing.id and s.category is ProductCategory.BASE
                                and self._view(acc, s).state not in (SubscriptionState.CANCELLED,
                                                                     SubscriptionState.EXPIRED)
                                for s in acc.subscriptions):
                            raise sub_error(1015, f"Subscription bundle {existing.id} already has a base subscription")
                        bundle = existing
                    elif bundle is None or category is ProductCategory.BASE:
                        bundle = self._new_bundle(uow, ctx, acc, req.bundle_external_key, ent_at)
                    base_plan = plan if category is ProductCategory.BASE else base_plan
                bundle_start = base.start_date if (category is ProductCategory.ADD_ON and base is not None) else bill_at
                sub = self._insert_subscription(uow, ctx, acc, bundle, plan, price_list, category, req,
                                                ent_at, bill_at, bundle_start, migrated)
                if category is ProductCategory.BASE:
                    base = sub
                created.append(sub)
                acc.subscriptions.append(sub)
            for sub in created:
                self._announce(uow, ctx, acc, sub.id, before=[], before_states=[])
        return created

    def _plan_for(self, catalog: Catalog, req: SubscriptionRequest, when: datetime) -> tuple[Plan, str | None]:
        if req.plan_name is not None and (req.product_name or req.billing_period):
            raise InvalidInput("planName: give either planName alone, or productName, billingPeriod and priceList")
        if req.plan_name is None and (req.product_name is None or req.billing_period is None):
            raise InvalidInput("planName: needs to be set (or productName, billingPeriod and priceList)")
        try:
            version = catalog.version_for_date(when)
            plan = create_or_find_plan(version, req.specifier())
        except CatalogApiError as exc:
            raise catalog_error(exc) from None
        if req.phase_type is not None and not any(ph.type is req.phase_type for ph in plan.all_phases):
            raise sub_error(1011, f"Can't create plan initial phase {req.phase_type.value}")
        return plan, req.price_list or plan.price_list

    def _existing_bundle(self, uow: UnitOfWork, ctx: CallContext, acc: _Account, req: SubscriptionRequest) -> Bundle:
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

    def _check_plans_allowed(self, acc: _Account, bundle_id: str, plan: Plan, when: datetime) -> None:
        if plan.plans_allowed_in_bundle < 0:
            return
        in_use = sum(1 for s in acc.subscriptions if s.bundle_id == bundle_id
                     and (cur := current_transition(transitions(s, acc.catalog), when)) is not None
                     and cur.plan is not None and cur.plan.name == plan.name)
        if in_use >= plan.plans_allowed_in_bundle:
            raise sub_error(1019, f"Can't create AddOn {plan.name}: the bundle already has "
                                  f"{in_use} of the {plan.plans_allowed_in_bundle} allowed")

    def _new_bundle(self, uow: UnitOfWork, ctx: CallContext, acc: _Account, external_key: str | None,
                    when: datetime) -> Bundle:
        bundle_id = str(uuid.uuid4())
        key = external_key or bundle_id
        for b in store.bundles_by_key(uow.conn, ctx.tenant, key):
            if self._bundle_is_active(uow, ctx, b):
                raise Conflict(f"Active bundle with external key {key} already exists", code=1014,
                               class_name=SUBSCRIPTION_EXCEPTION)
        row = uow.insert("bundles", {"id": bundle_id, "external_key": key, "account_id": acc.account.id,
                                     "account_record_id": acc.account.record_id, "original_created_date": uow.now})
        bundle = store.to_bundle(row)
        acc.bundles[bundle.id] = bundle
        return bundle

    def _bundle_is_active(self, uow: UnitOfWork, ctx: CallContext, bundle: Bundle) -> bool:
        account = self.accounts.get_by_record_id(ctx, bundle.account_record_id)
        acc = self._load(uow.conn, ctx, account)
        return any(s.bundle_id == bundle.id and self._view(acc, s).state not in
                   (SubscriptionState.CANCELLED, SubscriptionState.EXPIRED) for s in acc.subscriptions)

    def _insert_subscription(self, uow: UnitOfWork, ctx: CallContext, acc: _Account, bundle: Bundle, plan: Plan,
                             price_list: str | None, category: ProductCategory, req: SubscriptionRequest,
                             ent_at: datetime, bill_at: datetime, bundle_start: datetime,
                             migrated: bool) -> Subscription:
        sub_id = str(uuid.uuid4())
        key = req.external_key or sub_id
        existing = store.subscription_by_key(uow.conn, ctx.tenant, key)
        if existing is not None:
            raise Conflict(f"Subscription with external key {key} already exists", code=1014,
                           class_name=SUBSCRIPTION_EXCEPTION)
        version = acc.catalog.version_for_date(bill_at)
        alignment = create_alignment(version, PlanSpecifier(plan_name=plan.name))
        align_date = bill_at if (alignment is PlanAlignmentCreate.START_OF_SUBSCRIPTION
                                 or category is not ProductCategory.ADD_ON) else bundle_start
        if category is not ProductCategory.ADD_ON and alignment is PlanAlignmentCreate.START_OF_BUNDLE:
            align_date = bundle_start
        if req.quantity is not None and req.quantity < 1:
            raise InvalidInput("quantity: must be at least 1")
        row = uow.insert("subscriptions", {
            "id": sub_id, "bundle_id": bundle.id, "account_id": acc.account.id,
            "account_record_id": acc.account.record_id, "category": category.value, "external_key": key,
            "start_date": bill_at, "bundle_start_date": bundle_start, "charged_through_date": None,
            "migrated": migrated})
        event_row = uow.insert("subscription_events", {
            "subscription_id": sub_id, "event_type": SubscriptionEventType.CREATE.value, "effective_date": bill_at,
            "plan_name": plan.name, "price_list_name": price_list, "phase_align_date": align_date,
            "initial_phase_type": req.phase_type.value if req.phase_type else None,
            "billing_cycle_day_local": None, "quantity": req.quantity,
            "price_overrides": store.overrides_json(req.price_overrides), "is_active": True,
            "account_record_id": acc.account.record_id})
        state_row = uow.insert("blocking_states", self._state_values(
            acc, sub_id, BlockingStateType.SUBSCRIPTION, ENT_STARTED, ENTITLEMENT_SERVICE, False, False, False,
            ent_at))
        acc.blocking.append(store.to_blocking_state(state_row))
        return store.to_subscription(row, [store.to_event(event_row)])

    @staticmethod
    def _state_values(acc: _Account, blockable_id: str, type_: BlockingStateType, state: str, service: str,
                      block_change: bool, block_entitlement: bool, block_billing: bool,
                      when: datetime) -> dict[str, Any]:
        return {"blockable_id": blockable_id, "type": type_.value, "state": state, "service": service,
                "block_change": block_change, "block_entitlement": block_entitlement,
                "block_billing": block_billing, "effective_date": when, "is_active": True,
                "account_record_id": acc.account.record_id}

    # ============================================================ change
    def change_plan(self, ctx: CallContext, subscription_id: str, req: SubscriptionRequest, *,
                    requested_date: datetime | date | None = None, policy: BillingActionPolicy | None = None
                    ) -> Subscription:
        account = self._account_of_subscription(ctx, subscription_id)
        with self.db.transaction(ctx) as uow:
            uow.lock_account(account.record_id)
            acc = self._load(uow.conn, ctx, account)
            sub = acc.sub(subscription_id)
            assert sub is not None
            now = uow.now
            change = self._decide_change(acc, sub, req, requested_date, policy, now)
            target, when = change.target, change.when
            before = transitions(sub, acc.catalog)
            before_states = list(acc.blocking)
            # a new change replaces a pending one
            for e in sub.events:
                if e.is_active and e.event_type is SubscriptionEventType.CHANGE and e.effective_date > now:
                    uow.update("subscription_events", e.record_id, {"is_active": False})
            uow.insert("subscription_events", {**change.row, "account_record_id": account.record_id})
            acc = self._load(uow.conn, ctx, account)
            self._announce(uow, ctx, acc, sub.id, before=before, before_states=before_states)
            if sub.category is ProductCategory.BASE:
                self._cancel_addons_after_change(uow, ctx, acc, sub, target, when)
            changed = acc.sub(sub.id)
            assert changed is not None
        return changed

    def _decide_change(self, acc: _Account, sub: Subscription, req: SubscriptionRequest,
                       requested_date: datetime | date | None, policy: BillingActionPolicy | None,
                       now: datetime) -> _Change:
        """What a plan change would do, checked (Kill Bill's `DefaultSubscriptionBase.changePlan*`):
        the target plan, its effective date and the CHANGE event to store. Writes nothing."""
        if requested_date is not None and policy is not None:
            raise InvalidInput("requestedDate, billingPolicy: give one of them, not both")
        account = acc.account
        view = self._view(acc, sub)
        if view.state not in (SubscriptionState.ACTIVE, SubscriptionState.PENDING):
            raise sub_error(1021, f"Subscription {sub.id} is in state {view.state.value}: Failed to change plan")
        if view.billing_end is not None:
            raise sub_error(1022, f"Subscription {sub.id} is future cancelled: Failed to change plan")
        if is_blocked_at(blocked_intervals(view.blocking_states, "block_change"), now):
            raise BillowError(f"The action CHANGE is block on this SUBSCRIPTION with id={sub.id}", code=6000,
                              class_name="org.killbill.billing.entitlement.api.BlockingApiException", status=400)
        current = view.current
        assert current is not None and current.plan is not None and current.phase is not None
        version = acc.catalog.version_for_date(now)
        try:
            target = create_or_find_plan(version, PlanSpecifier(
                plan_name=req.plan_name, product_name=req.product_name, billing_period=req.billing_period,
                price_list_name=req.price_list))
            result = plan_change_result(
                version, PlanPhaseSpecifier(plan_name=current.plan.name, product_name=current.plan.product,
                                            billing_period=current.plan.recurring_billing_period,
                                            price_list_name=current.price_list, phase_type=current.phase.type),
                PlanSpecifier(plan_name=target.name, product_name=target.product,
                              billing_period=target.recurring_billing_period, price_list_name=req.price_list))
        except CatalogApiError as exc:
            raise catalog_error(exc) from None
        if sub.category is ProductCategory.ADD_ON and target.product != current.plan.product:
            base = next((s for s in acc.subscriptions if s.bundle_id == sub.bundle_id
                         and s.category is ProductCategory.BASE), None)
            if base is not None:
                base_cur = self._view(acc, base).current
                if base_cur is not None and base_cur.plan is not None and not is_addon_available(
                        version, base_cur.plan.product, target.product):
                    raise sub_error(1019, f"Can't create AddOn {target.name} for BasePlan "
                                          f"{base_cur.plan.name} (Not available)")
        effective_policy = policy or result.policy
        if requested_date is not None:
            when = to_instant(requested_date, now=now, time_zone=account.time_zone,
                              reference_time=account.reference_time)
            if when < current.effective_date and current.type is not SubscriptionEventType.PHASE:
                raise sub_error(1001, f"Requested date {when.isoformat()} is not allowed to be prior to the "
                                      f"previous transition {current.effective_date.isoformat()}")
            when = max(when, sub.start_date)
        else:
            if effective_policy is BillingActionPolicy.ILLEGAL:
                raise BillowError(
                    f"Attempting to change plan from (product: '{current.plan.product}', billing period: "
                    f"'{current.plan.recurring_billing_period.value}', pricelist '{current.price_list}') to "
                    f"(product: '{target.product}', billing period: '{target.recurring_billing_period.value}', "
                    f"pricelist '{result.new_price_list.name}'). This transition is not allowed by catalog "
                    "rules", code=2001, class_name=CATALOG_EXCEPTION, status=400)
            when = self._policy_date(effective_policy, view, now)
        alignment = PlanAlignmentChange(result.alignment.value)
        if alignment is PlanAlignmentChange.CHANGE_OF_PLAN:
            align_date, initial = when, req.phase_type
        elif alignment is PlanAlignmentChange.START_OF_BUNDLE:
            align_date = sub.bundle_start_date
            initial = initial_phase_type_on_change(target, req.phase_type, original_phase_type(sub, acc.catalog))
        else:
            align_date = sub.start_date
            initial = initial_phase_type_on_change(target, req.phase_type, original_phase_type(sub, acc.catalog))
        row = {"subscription_id": sub.id, "event_type": SubscriptionEventType.CHANGE.value, "effective_date": when,
               "plan_name": target.name, "price_list_name": result.new_price_list.name,
               "phase_align_date": align_date, "initial_phase_type": initial.value if initial else None,
               "billing_cycle_day_local": None, "quantity": req.quantity,
               "price_overrides": store.overrides_json(req.price_overrides), "is_active": True}
        return _Change(target, when, row)

    def what_if(self, ctx: CallContext, account: Account, action: str, *, subscription_id: str | None = None,
                bundle_id: str | None = None, req: SubscriptionRequest | None = None,
                effective: datetime | date | None = None, billing_policy: BillingActionPolicy | None = None
                ) -> tuple[list[Subscription], list[BlockingState]]:
        """The account's subscriptions as they would be after an action (Kill Bill's dry run
        SUBSCRIPTION_ACTION: START_BILLING, CHANGE, STOP_BILLING), with the same checks and dates as
        the real operation. Nothing is written."""
        now = self.db.clock.utcnow()
        with self.db.read() as conn:
            acc = self._load(conn, ctx, account)
        seq = iter(range(10**12, 10**13))

        def event(sub_id: str, row: dict[str, Any]) -> SubscriptionEvent:
            n = next(seq)
            return store.to_event({**row, "record_id": n, "id": str(uuid.uuid4()), "subscription_id": sub_id,
                                   "created_date": now})

        def with_events(sub: Subscription, *extra: SubscriptionEvent) -> Subscription:
            return dataclasses.replace(sub, events=(*sub.events, *extra))

        action = action.upper()
        if action not in ("START_BILLING", "CHANGE", "STOP_BILLING"):
            raise InvalidInput(f"dryRunAction: '{action}' is not one of START_BILLING, CHANGE, STOP_BILLING")
        subs = list(acc.subscriptions)
        if action == "START_BILLING":
            if req is None:
                raise InvalidInput("planName: a dry run START_BILLING needs the plan")
            when = to_instant(effective, now=now, time_zone=account.time_zone, reference_time=account.reference_time)
            plan, price_list = self._plan_for(acc.catalog, req, when)
            category = _category(acc.catalog, plan, when)
            base = next((s for s in subs if s.bundle_id == bundle_id and s.category is ProductCategory.BASE),
                        None) if bundle_id else None
            if category is ProductCategory.ADD_ON and base is None:
                raise sub_error(1013, f"Missing Base Subscription for bundle {bundle_id}")
            bundle_start = base.start_date if base is not None else when
            alignment = create_alignment(acc.catalog.version_for_date(when), PlanSpecifier(plan_name=plan.name))
            align = when if alignment is PlanAlignmentCreate.START_OF_SUBSCRIPTION else bundle_start
            sub_id = str(uuid.uuid4())
            new = Subscription(record_id=next(seq), id=sub_id, bundle_id=bundle_id or str(uuid.uuid4()),
                               account_id=account.id, account_record_id=account.record_id, category=category,
                               external_key=sub_id, start_date=when, bundle_start_date=bundle_start,
                               charged_through_date=None, created_date=now)
            row = {"event_type": SubscriptionEventType.CREATE.value, "effective_date": when, "plan_name": plan.name,
                   "price_list_name": price_list, "phase_align_date": align,
                   "initial_phase_type": req.phase_type.value if req.phase_type else None,
                   "billing_cycle_day_local": None, "quantity": req.quantity,
                   "price_overrides": store.overrides_json(req.price_overrides), "is_active": True}
            subs.append(with_events(new, event(sub_id, row)))
            return subs, acc.blocking
        sub = acc.sub(subscription_id or "")
        if sub is None:
            raise subscription_not_found(subscription_id or "")
        if action == "CHANGE":
            if req is None:
                raise InvalidInput("planName: a dry run CHANGE needs the new plan")
            change = self._decide_change(acc, sub, req, effective, billing_policy, now)
            pending = tuple(dataclasses.replace(e, is_active=False) if (
                e.event_type is SubscriptionEventType.CHANGE and e.effective_date > now) else e for e in sub.events)
            changed = with_events(dataclasses.replace(sub, events=pending), event(sub.id, change.row))
            return [changed if s.id == sub.id else s for s in subs], acc.blocking
        if action == "STOP_BILLING":
            _, bill = self._decide_cancel(acc, sub, now, effective, None, billing_policy, effective is not None)
            cancel = {"event_type": SubscriptionEventType.CANCEL.value, "effective_date": bill, "plan_name": None,
                      "price_list_name": None, "phase_align_date": None, "initial_phase_type": None,
                      "billing_cycle_day_local": None, "quantity": None, "price_overrides": None, "is_active": True}
            out = []
            for s in subs:
                if s.id == sub.id or (sub.category is ProductCategory.BASE and s.bundle_id == sub.bundle_id
                                      and s.category is ProductCategory.ADD_ON
                                      and self._view(acc, s).billing_end is None):
                    s = with_events(s, event(s.id, {**cancel, "effective_date": max(bill, s.start_date)}))
                out.append(s)
            return out, acc.blocking
        raise AssertionError(action)  # pragma: no cover - checked above

    def _policy_date(self, policy: BillingActionPolicy, view: SubscriptionView, now: datetime) -> datetime:
        current = view.current
        phase_start = None
        billing_period = BillingPeriod.NO_BILLING_PERIOD
        if current is not None and current.phase is not None:
            phase_start = current.effective_date
            if current.phase.recurring is not None:
                billing_period = current.phase.recurring.billing_period
        if policy is BillingActionPolicy.END_OF_TERM and current is not None and current.plan is not None:
            from billow.catalog.model import BillingMode

            mode = current.plan.recurring_billing_mode or (
                current.version.recurring_billing_mode if current.version else None)
            if mode is BillingMode.IN_ARREAR:
                return max(now, phase_start or now)  # nothing is invoiced in advance: EOT is now
        return effective_date_for_policy(policy, now=now, start_date=view.subscription.start_date,
                                         charged_through_date=view.subscription.charged_through_date,
                                         billing_period=billing_period, current_phase_start=phase_start)

    def _cancel_addons_after_change(self, uow: UnitOfWork, ctx: CallContext, acc: _Account, base: Subscription,
                                    new_plan: Plan, when: datetime) -> None:
        """Add-ons the new base no longer offers, or now includes, are cancelled at the change date."""
        version = acc.catalog.version_for_date(when)
        for addon in [s for s in acc.subscriptions if s.bundle_id == base.bundle_id
                      and s.category is ProductCategory.ADD_ON]:
            view = self._view(acc, addon)
            if view.billing_end is not None or view.current is None or view.current.plan is None:
                continue
            product = view.current.plan.product
            if is_addon_included(version, new_plan.product, product) or not is_addon_available(
                    version, new_plan.product, product):
                self._write_cancel(uow, ctx, acc, addon, max(when, addon.start_date), max(when, addon.start_date))

    def undo_change(self, ctx: CallContext, subscription_id: str) -> None:
        account = self._account_of_subscription(ctx, subscription_id)
        with self.db.transaction(ctx) as uow:
            uow.lock_account(account.record_id)
            acc = self._load(uow.conn, ctx, account)
            sub = acc.sub(subscription_id)
            assert sub is not None
            pending = [e for e in sub.events if e.is_active and e.event_type is SubscriptionEventType.CHANGE
                       and e.effective_date > uow.now]
            if not pending:
                raise sub_error(1023, f"Invalid change plan for subscription {sub.id}: there is no pending change "
                                      "to undo")
            before = transitions(sub, acc.catalog)
            for e in pending:
                uow.update("subscription_events", e.record_id, {"is_active": False})
            acc = self._load(uow.conn, ctx, account)
            self._announce(uow, ctx, acc, sub.id, before=before, before_states=list(acc.blocking))
            uow.post(ev.SubscriptionChangeEvent(**self._event_fields(ctx, acc, sub, uow.now), undo=True))

    # ============================================================ cancel
    def cancel(self, ctx: CallContext, subscription_id: str, *, requested_date: datetime | date | None = None,
               entitlement_policy: EntitlementActionPolicy | None = None,
               billing_policy: BillingActionPolicy | None = None,
               use_requested_date_for_billing: bool = False) -> None:
        """Kill Bill's `cancelSubscriptionPlan` with its four combinations of date and policies."""
        account = self._account_of_subscription(ctx, subscription_id)
        with self.db.transaction(ctx) as uow:
            uow.lock_account(account.record_id)
            acc = self._load(uow.conn, ctx, account)
            sub = acc.sub(subscription_id)
            assert sub is not None
            now = uow.now
            ent_date, bill_date = self._decide_cancel(acc, sub, now, requested_date, entitlement_policy,
                                                      billing_policy, use_requested_date_for_billing)
            self._write_cancel(uow, ctx, acc, sub, ent_date, bill_date)
            if sub.category is ProductCategory.BASE:
                for addon in [s for s in acc.subscriptions if s.bundle_id == sub.bundle_id
                              and s.category is ProductCategory.ADD_ON]:
                    addon_view = self._view(acc, addon)
                    if addon_view.billing_end is None and addon_view.state not in (SubscriptionState.CANCELLED,
                                                                                   SubscriptionState.EXPIRED):
                        self._write_cancel(uow, ctx, acc, addon, max(ent_date, addon.start_date),
                                           max(bill_date, addon.start_date))

    def _decide_cancel(self, acc: _Account, sub: Subscription, now: datetime, requested_date: datetime | date | None,
                       entitlement_policy: EntitlementActionPolicy | None,
                       billing_policy: BillingActionPolicy | None,
                       use_requested_date_for_billing: bool) -> tuple[datetime, datetime]:
        """Entitlement and billing dates of a cancellation, checked; writes nothing (Kill Bill's
        `cancelSubscriptionPlan` with its four combinations of date and policies)."""
        view = self._view(acc, sub)
        if view.billing_end is not None or view.state in (SubscriptionState.CANCELLED,
                                                          SubscriptionState.EXPIRED):
            raise sub_error(1031, f"Subscription {sub.id} is in state "
                                  f"{SubscriptionState.CANCELLED.value if view.billing_end else view.state.value}"
                                  ": Failed to cancel")
        catalog_policy = self._catalog_cancel_policy(acc, view)
        requested = to_instant(requested_date, now=now, time_zone=acc.account.time_zone,
                               reference_time=acc.account.reference_time) if requested_date is not None else None
        if billing_policy is None and entitlement_policy is None:
            ent_date = requested or now
            if isinstance(requested_date, datetime) or use_requested_date_for_billing:
                bill_date = ent_date
            else:
                bill_date = self._policy_date(catalog_policy, view, now)
        elif billing_policy is None:
            assert entitlement_policy is not None
            bill_policy = (BillingActionPolicy.IMMEDIATE if entitlement_policy is EntitlementActionPolicy.IMMEDIATE
                           else BillingActionPolicy.END_OF_TERM)
            bill_date = self._policy_date(bill_policy, view, now)
            ent_date = now if entitlement_policy is EntitlementActionPolicy.IMMEDIATE else bill_date
        elif entitlement_policy is None:
            ent_date = requested or now
            bill_date = self._policy_date(billing_policy, view, now)
        else:
            bill_date = self._policy_date(billing_policy, view, now)
            ent_date = now if entitlement_policy is EntitlementActionPolicy.IMMEDIATE else \
                self._policy_date(BillingActionPolicy.END_OF_TERM, view, now)
        ent_date = max(ent_date, view.entitlement_start or sub.start_date)
        bill_date = max(bill_date, sub.start_date)
        return ent_date, bill_date

    def _catalog_cancel_policy(self, acc: _Account, view: SubscriptionView) -> BillingActionPolicy:
        cur = view.current
        if cur is None or cur.plan is None or cur.phase is None or cur.version is None:
            return BillingActionPolicy.END_OF_TERM
        policy = cancel_policy(cur.version, PlanPhaseSpecifier(
            plan_name=cur.plan.name, product_name=cur.plan.product, billing_period=cur.plan.recurring_billing_period,
            price_list_name=cur.price_list, phase_type=cur.phase.type))
        return policy

    def _write_cancel(self, uow: UnitOfWork, ctx: CallContext, acc: _Account, sub: Subscription,
                      ent_date: datetime, bill_date: datetime) -> None:
        before = transitions(sub, acc.catalog)
        before_states = list(acc.blocking)
        uow.insert("subscription_events", {
            "subscription_id": sub.id, "event_type": SubscriptionEventType.CANCEL.value, "effective_date": bill_date,
            "plan_name": None, "price_list_name": None, "phase_align_date": None, "initial_phase_type": None,
            "billing_cycle_day_local": None, "quantity": None, "price_overrides": None, "is_active": True,
            "account_record_id": acc.account.record_id})
        uow.insert("blocking_states", self._state_values(
            acc, sub.id, BlockingStateType.SUBSCRIPTION, ENT_CANCELLED, ENTITLEMENT_SERVICE, True, True, False,
            ent_date))
        fresh = self._load(uow.conn, ctx, acc.account)
        acc.subscriptions, acc.blocking = fresh.subscriptions, fresh.blocking
        self._announce(uow, ctx, acc, sub.id, before=before, before_states=before_states)

    def uncancel(self, ctx: CallContext, subscription_id: str) -> None:
        account = self._account_of_subscription(ctx, subscription_id)
        with self.db.transaction(ctx) as uow:
            uow.lock_account(account.record_id)
            acc = self._load(uow.conn, ctx, account)
            sub = acc.sub(subscription_id)
            assert sub is not None
            now = uow.now
            cancels = [e for e in sub.events if e.is_active and e.event_type is SubscriptionEventType.CANCEL]
            states = [s for s in acc.blocking if s.blockable_id == sub.id and s.state_name == ENT_CANCELLED]
            if not cancels or any(e.effective_date <= now for e in cancels) or any(
                    s.effective_date <= now for s in states):
                raise sub_error(1070, f"Subscription {sub.id} was not in a cancelled state: "
                                      "Failed to uncancel plan")
            before = transitions(sub, acc.catalog)
            before_states = list(acc.blocking)
            for e in cancels:
                uow.update("subscription_events", e.record_id, {"is_active": False})
            for s in states:
                uow.update("blocking_states", s.record_id, {"is_active": False})
            acc = self._load(uow.conn, ctx, account)
            self._announce(uow, ctx, acc, sub.id, before=before, before_states=before_states)
            uow.post(ev.SubscriptionUncancelEvent(**self._event_fields(ctx, acc, sub, now)))

    # ============================================================ bill cycle day
    def update_bcd(self, ctx: CallContext, subscription_id: str, bcd: int, effective_from: date | None = None
                   ) -> None:
        if not 1 <= bcd <= 31:
            raise InvalidInput(f"billCycleDayLocal: {bcd} is not between 1 and 31")
        account = self._account_of_subscription(ctx, subscription_id)
        with self.db.transaction(ctx) as uow:
            uow.lock_account(account.record_id)
            acc = self._load(uow.conn, ctx, account)
            sub = acc.sub(subscription_id)
            assert sub is not None
            view = self._view(acc, sub)
            if view.state in (SubscriptionState.CANCELLED, SubscriptionState.EXPIRED):
                raise sub_error(1031, f"Subscription {sub.id} is in state {view.state.value}: Failed to update BCD")
            tz = zone(account.time_zone)
            today = uow.now.astimezone(tz).date()
            start = sub.start_date.astimezone(tz).date()
            day = effective_date_for_new_bcd(bcd, effective_from, today=today, start=start)
            when = to_instant(day, now=uow.now, time_zone=account.time_zone, reference_time=account.reference_time)
            when = max(when, sub.start_date)
            before = transitions(sub, acc.catalog)
            uow.insert("subscription_events", {
                "subscription_id": sub.id, "event_type": SubscriptionEventType.BCD_CHANGE.value,
                "effective_date": when, "plan_name": None, "price_list_name": None, "phase_align_date": None,
                "initial_phase_type": None, "billing_cycle_day_local": bcd, "quantity": None, "price_overrides": None,
                "is_active": True, "account_record_id": account.record_id})
            acc = self._load(uow.conn, ctx, account)
            self._announce(uow, ctx, acc, sub.id, before=before, before_states=list(acc.blocking))

    def update_charged_through_dates(self, uow: UnitOfWork, ctx: CallContext, dates: dict[str, datetime]) -> None:
        """Invoicing sets each subscription's charged-through date (it replaces the stored one)."""
        if not dates:
            return
        rows = store.charged_through_dates(uow.conn, ctx.tenant, list(dates))
        changes = {record_id: {"charged_through_date": dates[sub_id]}
                   for record_id, sub_id, current in rows if current != dates[sub_id]}
        uow.update_many("subscriptions", changes)

    # ============================================================ pause, resume, blocking
    def pause_bundle(self, ctx: CallContext, bundle_id: str, requested_date: date | datetime | None = None) -> None:
        self._bundle_state(ctx, bundle_id, requested_date, ENT_BLOCKED, True)

    def resume_bundle(self, ctx: CallContext, bundle_id: str, requested_date: date | datetime | None = None) -> None:
        self._bundle_state(ctx, bundle_id, requested_date, ENT_CLEAR, False)

    def _bundle_state(self, ctx: CallContext, bundle_id: str, requested_date: date | datetime | None, state: str,
                      block: bool) -> None:
        account = self._account_of_bundle(ctx, bundle_id)
        with self.db.transaction(ctx) as uow:
            uow.lock_account(account.record_id)
            acc = self._load(uow.conn, ctx, account)
            when = to_instant(requested_date, now=uow.now, time_zone=account.time_zone,
                              reference_time=account.reference_time)
            subs = [s for s in acc.subscriptions if s.bundle_id == bundle_id]
            live = [s for s in subs if self._view(acc, s).state not in (SubscriptionState.CANCELLED,
                                                                        SubscriptionState.EXPIRED)]
            if not live:
                raise sub_error(1099, f"No active subscriptions on bundle {bundle_id}")
            stream = [s for s in acc.blocking if s.blockable_id == bundle_id and s.service == ENTITLEMENT_SERVICE
                      and s.effective_date <= when]
            currently_blocked = bool(stream) and stream[-1].block_entitlement
            if block and currently_blocked:
                raise BillowError(f"The blockable entity {bundle_id} is already blocked", code=8001,
                                  class_name=ENTITLEMENT_EXCEPTION, status=400)
            if not block and not currently_blocked and not any(
                    s.blockable_id == bundle_id and s.service == ENTITLEMENT_SERVICE and s.block_entitlement
                    for s in acc.blocking):
                raise BillowError(f"Bundle {bundle_id} is not paused", code=8002, class_name=ENTITLEMENT_EXCEPTION,
                                  status=400)
            self._add_state(uow, ctx, acc, bundle_id, BlockingStateType.SUBSCRIPTION_BUNDLE, state,
                            ENTITLEMENT_SERVICE, block, block, block, when)

    def add_blocking_state(self, ctx: CallContext, type_: BlockingStateType, blockable_id: str, state_name: str,
                           service: str, block_change: bool, block_entitlement: bool, block_billing: bool,
                           requested_date: date | datetime | None = None) -> Account:
        if not state_name:
            raise InvalidInput("stateName: needs to be set")
        if not service:
            raise InvalidInput("service: needs to be set")
        if type_ is BlockingStateType.ACCOUNT:
            account = self.accounts.get(ctx, blockable_id)
        elif type_ is BlockingStateType.SUBSCRIPTION_BUNDLE:
            account = self._account_of_bundle(ctx, blockable_id)
        else:
            account = self._account_of_subscription(ctx, blockable_id)
        with self.db.transaction(ctx) as uow:
            uow.lock_account(account.record_id)
            acc = self._load(uow.conn, ctx, account, catalog_required=False)
            when = to_instant(requested_date, now=uow.now, time_zone=account.time_zone,
                              reference_time=account.reference_time)
            self._add_state(uow, ctx, acc, blockable_id, type_, state_name, service, block_change,
                            block_entitlement, block_billing, when)
        return account

    def _add_state(self, uow: UnitOfWork, ctx: CallContext, acc: _Account, blockable_id: str,
                   type_: BlockingStateType, state: str, service: str, block_change: bool, block_entitlement: bool,
                   block_billing: bool, when: datetime) -> None:
        before_states = list(acc.blocking)
        row = uow.insert("blocking_states", self._state_values(acc, blockable_id, type_, state, service,
                                                               block_change, block_entitlement, block_billing, when))
        new_state = store.to_blocking_state(row)
        acc.blocking.append(new_state)
        if when <= uow.now:
            self._publish_state(uow, ctx, acc, new_state)
        elif self.schedule is not None:
            self.schedule(uow, {"kind": "state", "id": new_state.id}, when, acc.account.record_id)
        del before_states

    # ============================================================ announcing
    def _event_fields(self, ctx: CallContext, acc: _Account, sub: Subscription, when: datetime) -> dict[str, Any]:
        bundle = acc.bundles.get(sub.bundle_id)
        return {"tenant_record_id": ctx.tenant, "account_record_id": acc.account.record_id,
                "account_id": acc.account.id, "object_id": sub.id, "user_token": ctx.user_token,
                "bundle_id": sub.bundle_id, "bundle_external_key": bundle.external_key if bundle else None,
                "effective_date": when.isoformat()}

    def _announce(self, uow: UnitOfWork, ctx: CallContext, acc: _Account, subscription_id: str, *,
                  before: list[Transition], before_states: list[BlockingState]) -> None:
        """Publish what is new and already effective; schedule what is new and still to come."""
        sub = acc.sub(subscription_id)
        if sub is None:
            return
        known = {t.event_id for t in before}
        now = uow.now
        for t in transitions(sub, acc.catalog):
            if t.event_id in known or t.synthetic:  # catalog repricing is for billing only: no event
                continue
            if t.effective_date <= now:
                self._publish_transition(uow, ctx, acc, sub, t)
            elif self.schedule is not None:
                self.schedule(uow, {"kind": "transition", "subscription_id": sub.id, "event_id": t.event_id},
                              t.effective_date, acc.account.record_id)
        known_states = {s.id for s in before_states}
        for s in acc.blocking:
            if s.id in known_states or s.blockable_id != sub.id:
                continue
            if s.effective_date <= now:
                self._publish_state(uow, ctx, acc, s)
            elif self.schedule is not None:
                self.schedule(uow, {"kind": "state", "id": s.id}, s.effective_date, acc.account.record_id)

    def _publish_transition(self, uow: UnitOfWork, ctx: CallContext, acc: _Account, sub: Subscription,
                            t: Transition) -> None:
        cls = {SubscriptionEventType.CREATE: ev.SubscriptionCreationEvent,
               SubscriptionEventType.TRANSFER: ev.SubscriptionCreationEvent,
               SubscriptionEventType.PHASE: ev.SubscriptionPhaseEvent,
               SubscriptionEventType.CHANGE: ev.SubscriptionChangeEvent,
               SubscriptionEventType.CANCEL: ev.SubscriptionCancelEvent,
               SubscriptionEventType.EXPIRED: ev.SubscriptionExpiredEvent,
               SubscriptionEventType.BCD_CHANGE: ev.SubscriptionBcdChangeEvent}[t.type]
        uow.post(cls(**self._event_fields(ctx, acc, sub, t.effective_date)))

    def _publish_state(self, uow: UnitOfWork, ctx: CallContext, acc: _Account, state: BlockingState) -> None:
        base = {"tenant_record_id": ctx.tenant, "account_record_id": acc.account.record_id,
                "account_id": acc.account.id, "object_id": state.blockable_id, "user_token": ctx.user_token}
        if state.service == ENTITLEMENT_SERVICE and state.type is BlockingStateType.SUBSCRIPTION:
            sub = acc.sub(state.blockable_id)
            if sub is not None and state.state_name == ENT_STARTED:
                uow.post(ev.EntitlementCreationEvent(**self._event_fields(ctx, acc, sub, state.effective_date)))
                return
            if sub is not None and state.state_name == ENT_CANCELLED:
                uow.post(ev.EntitlementCancelEvent(**self._event_fields(ctx, acc, sub, state.effective_date)))
                return
        if state.service == ENTITLEMENT_SERVICE and state.type is BlockingStateType.SUBSCRIPTION_BUNDLE:
            if state.state_name == ENT_BLOCKED:
                uow.post(ev.BundlePauseEvent(**base))
                return
            if state.state_name == ENT_CLEAR:
                uow.post(ev.BundleResumeEvent(**base))
                return
        uow.post(ev.BlockingStateEvent(**base, blockable_type=state.type.value, state_name=state.state_name,
                                       service=state.service, block_billing=state.block_billing,
                                       block_entitlement=state.block_entitlement, block_change=state.block_change))

    def on_notification(self, uow: UnitOfWork, ctx: CallContext, payload: dict[str, Any]) -> None:
        """A scheduled transition or blocking state is due: announce it if it still stands."""
        if payload.get("kind") == "transition":
            sub = store.subscription_by_id(uow.conn, ctx.tenant, payload["subscription_id"])
            if sub is None:
                return
            account = self.accounts.get_by_record_id(ctx, sub.account_record_id)
            acc = self._load(uow.conn, ctx, account)
            current = acc.sub(sub.id)
            assert current is not None
            for t in transitions(current, acc.catalog):
                if t.event_id == payload["event_id"] and t.effective_date <= uow.now:
                    self._publish_transition(uow, ctx, acc, current, t)
        elif payload.get("kind") == "state":
            from sqlalchemy import select

            t_ = store.blocking_states.table
            row = uow.conn.execute(select(t_).where(t_.c.tenant_record_id == ctx.tenant,
                                                    t_.c.id == payload["id"])).first()
            if row is None or not row.is_active:
                return
            state = store.to_blocking_state(row._mapping)
            account = self.accounts.get_by_record_id(ctx, row.account_record_id)
            acc = self._load(uow.conn, ctx, account, catalog_required=False)
            self._publish_state(uow, ctx, acc, state)


def _category(catalog: Catalog, plan: Plan, when: datetime) -> ProductCategory:
    return catalog.version_for_date(when).find_product(plan.product).category


def _bcd_of(acc: _Account, sub: Subscription, trans: list[Transition], now: datetime) -> int | None:
    """The BCD shown on the subscription: a BCD change in force, else the alignment's BCD."""
    from billow.catalog.engine import billing_alignment
    from billow.catalog.model import BillingAlignment
    from billow.junction.engine import subscription_bcd

    bcd_change = None
    for t in trans:
        if t.type is SubscriptionEventType.BCD_CHANGE and t.effective_date <= now:
            bcd_change = t.bill_cycle_day_local
    if bcd_change is not None:
        return bcd_change
    cur = current_transition(trans, now) or (trans[0] if trans else None)
    if cur is None or cur.plan is None or cur.phase is None or cur.version is None:
        return None
    alignment = billing_alignment(cur.version, PlanPhaseSpecifier(plan_name=cur.plan.name, phase_type=cur.phase.type))
    if alignment is BillingAlignment.ACCOUNT and acc.account.bill_cycle_day_local:
        return acc.account.bill_cycle_day_local
    if alignment is BillingAlignment.BUNDLE:
        base = next((s for s in acc.subscriptions if s.bundle_id == sub.bundle_id
                     and s.category is ProductCategory.BASE), sub)
        return subscription_bcd(base, acc.catalog, acc.account.time_zone)
    return subscription_bcd(sub, acc.catalog, acc.account.time_zone)


__all__ = ["BILLING_SERVICE", "EntitlementService", "QUEUE", "SubscriptionRequest", "SubscriptionView"]
