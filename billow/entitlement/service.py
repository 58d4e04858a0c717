"""The entitlement service: bundles and subscriptions, plan changes, cancellations, pause and resume,
bill cycle day changes and blocking states (billing-semantics.md Part 2).

This is the user API (REST, CLI, embedding programs): each call is one unit of work around the internal
API (`internal.py`), which services above call in their own. Every write runs under the account lock,
stores what was asked (events and blocking states, with audit and history), announces what took effect
now on the bus, and schedules a notification for each transition that takes effect later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from billow.account.model import Account
from billow.core.context import CallContext
from billow.core.db import Database
from billow.core.db.audit_read import AuditLogEntry, audit_logs
from billow.core.errors import InvalidInput
from billow.core.objects import ObjectType, object_does_not_exist
from billow.entitlement import store
from billow.entitlement.errors import bundle_key_not_found, bundle_not_found, subscription_not_found
from billow.entitlement.internal import EntitlementInternalApi
from billow.entitlement.model import (
    BcdTransfer,
    BillingActionPolicy,
    BlockingState,
    BlockingStateType,
    Bundle,
    EntitlementActionPolicy,
    Subscription,
    SubscriptionRequest,
)
from billow.entitlement.views import PlanInForce, SubscriptionView, build_view, plan_in_force


@dataclass(frozen=True, slots=True)
class BundlePage:
    """One page of bundles with their subscriptions, and Kill Bill's pagination counts."""

    items: list[tuple[Bundle, list[SubscriptionView]]]
    offset: int
    limit: int
    total: int  # matching bundles
    max_records: int  # all the bundles the listing is over (the tenant's, or the account's)


class EntitlementService:
    def __init__(self, db: Database, internal: EntitlementInternalApi) -> None:
        self.db = db
        self.internal = internal

    # ============================================================ reads
    def view(self, ctx: CallContext, subscription_id: str) -> SubscriptionView:
        with self.db.read(ctx) as uow:
            acc = self.internal.load(uow, self.internal.account_of_subscription(uow, subscription_id))
            sub = acc.sub(subscription_id)
            assert sub is not None
            return build_view(acc, sub, uow.now)

    def view_by_key(self, ctx: CallContext, external_key: str) -> SubscriptionView:
        with self.db.read(ctx) as uow:
            sub = store.subscription_by_key(uow.conn, ctx.tenant, external_key)
        if sub is None:
            raise subscription_not_found(external_key)
        return self.view(ctx, sub.id)

    def account_views(self, ctx: CallContext, account_id: str) -> tuple[Account, list[Bundle], list[SubscriptionView]]:
        with self.db.read(ctx) as uow:
            account = self.internal.accounts.get(uow, account_id)
            acc = self.internal.load(uow, account, catalog_required=False)
            views = [build_view(acc, s, uow.now) for s in acc.subscriptions]
        return account, list(acc.bundles.values()), views

    def bundle_views(self, ctx: CallContext, bundle_id: str) -> tuple[Bundle, list[SubscriptionView]]:
        with self.db.read(ctx) as uow:
            acc = self.internal.load(uow, self.internal.account_of_bundle(uow, bundle_id), catalog_required=False)
            views = [build_view(acc, s, uow.now) for s in acc.subscriptions if s.bundle_id == bundle_id]
        return acc.bundles[bundle_id], views

    def bundles_by_key(self, ctx: CallContext, external_key: str) -> list[tuple[Bundle, list[SubscriptionView]]]:
        with self.db.read(ctx) as uow:
            found = store.bundles_by_key_or_renamed(uow.conn, ctx.tenant, external_key)
        if not found:
            raise bundle_key_not_found(external_key)
        return [self.bundle_views(ctx, b.id) for b in found]

    def bundles_page(self, ctx: CallContext, offset: int = 0, limit: int = 100, *, account_id: str | None = None,
                     search_key: str | None = None) -> BundlePage:
        """The tenant's bundles, or an account's (Kill Bill's `getBundles`, `getAccountBundlesPaginated`), or
        those whose id, account id or external key is the search key (`searchBundles`), a page at a time."""
        with self.db.read(ctx) as uow:
            account_record_id = None
            if account_id is not None:
                account_record_id = self.internal.accounts.get(uow, account_id).record_id
            bundles, total = store.bundles_page(uow.conn, ctx.tenant, offset, limit,
                                                account_record_id=account_record_id, search_key=search_key)
            max_records = total if search_key is None else store.count_bundles(uow.conn, ctx.tenant)
            items = []
            loaded = {}
            for b in bundles:
                if b.account_record_id not in loaded:
                    account = self.internal.accounts.by_record_id(uow, b.account_record_id)
                    loaded[b.account_record_id] = self.internal.load(uow, account, catalog_required=False)
                acc = loaded[b.account_record_id]
                items.append((b, [build_view(acc, s, uow.now) for s in acc.subscriptions if s.bundle_id == b.id]))
        return BundlePage(items, offset, limit, total, max_records)

    def blocking_states(self, ctx: CallContext, account_id: str) -> list[BlockingState]:
        return [s for s, _ in self.blocking_states_audited(ctx, account_id, "NONE")]

    def blocking_states_audited(self, ctx: CallContext, account_id: str, level: str
                                ) -> list[tuple[BlockingState, list[AuditLogEntry]]]:
        """The account's blocking states, each with its audit logs at `level` (NONE, MINIMAL, FULL)."""
        with self.db.read(ctx) as uow:
            account = self.internal.accounts.get(uow, account_id)
            states = store.blocking_states_of_account(uow.conn, ctx.tenant, account.record_id)
            logs = audit_logs(uow.conn, ctx.tenant, "blocking_states", [s.record_id for s in states], level=level)
        return [(s, logs[s.record_id]) for s in states]

    def plan_at(self, ctx: CallContext, subscription_id: str, requested: datetime | date | None) -> PlanInForce:
        """The plan, phase and catalog version a subscription has at a date (Kill Bill's
        `getPlanForSubscriptionAndDate` and siblings; a local date is read at the account's reference time,
        none is now)."""
        view = self.view(ctx, subscription_id)
        when = view.account.time.requested(requested, self.db.clock.utcnow())
        found = plan_in_force(view, when)
        if found is None:
            raise InvalidInput(f"subscriptionId: subscription {subscription_id} has no plan at {when.isoformat()}")
        return found

    def subscription_audit_logs(self, ctx: CallContext, subscription_id: str, *, with_history: bool = True,
                                level: str = "FULL") -> list[AuditLogEntry]:
        """The subscription row's audit logs (`level` NONE, MINIMAL: its creation only, or FULL)."""
        with self.db.read(ctx) as uow:
            sub = store.subscription_by_id(uow.conn, ctx.tenant, subscription_id)
            if sub is None:
                raise subscription_not_found(subscription_id)
            logs = audit_logs(uow.conn, ctx.tenant, "subscriptions", [sub.record_id], level=level,
                              with_history=with_history)
        return logs[sub.record_id]

    def audit_logs_by_id(self, ctx: CallContext, level: str, *, bundles: Sequence[str] = (),
                         subscriptions: Sequence[str] = (), events: Sequence[str] = ()
                         ) -> dict[str, list[AuditLogEntry]]:
        """The audit logs at `level` of bundles, subscriptions and subscription events, by object id (what the
        `audit` query parameter of their JSON shows; an entitlement event, which is a blocking state, has none in
        Kill Bill's `getAuditLogsForSubscriptionEvent` either)."""
        if level == "NONE":
            return {}
        out: dict[str, list[AuditLogEntry]] = {}
        with self.db.read(ctx) as uow:
            for table, ids in (("bundles", bundles), ("subscriptions", subscriptions),
                               ("subscription_events", events)):
                found = store.record_ids_by_id(uow.conn, ctx.tenant, table, sorted(set(ids)))
                logs = audit_logs(uow.conn, ctx.tenant, table, list(found.values()), level=level)
                for object_id, record_id in found.items():
                    out[object_id] = logs[record_id]
        return out

    def bundle_audit_logs(self, ctx: CallContext, bundle_id: str) -> list[AuditLogEntry]:
        """`GET /bundles/{id}/auditLogsWithHistory`: every change of the bundle, with the row as it became."""
        with self.db.read(ctx) as uow:
            bundle = store.bundle_by_id(uow.conn, ctx.tenant, bundle_id)
            if bundle is None:
                raise bundle_not_found(bundle_id)
            return audit_logs(uow.conn, ctx.tenant, "bundles", [bundle.record_id], with_history=True)[
                bundle.record_id]

    def subscription_event_audit_logs(self, ctx: CallContext, event_id: str) -> list[AuditLogEntry]:
        """`GET /subscriptions/events/{id}/auditLogsWithHistory`."""
        with self.db.read(ctx) as uow:
            record_id = store.subscription_event_record_id(uow.conn, ctx.tenant, event_id)
            if record_id is None:
                raise object_does_not_exist(event_id, ObjectType.SUBSCRIPTION_EVENT)
            return audit_logs(uow.conn, ctx.tenant, "subscription_events", [record_id], with_history=True)[record_id]

    def blocking_state_audit_logs(self, ctx: CallContext, blocking_id: str) -> list[AuditLogEntry]:
        """`GET /accounts/block/{id}/auditLogsWithHistory`."""
        with self.db.read(ctx) as uow:
            found = store.blocking_state_by_id(uow.conn, ctx.tenant, blocking_id)
            if found is None:
                raise object_does_not_exist(blocking_id, ObjectType.BLOCKING_STATES)
            record_id = found[0].record_id
            return audit_logs(uow.conn, ctx.tenant, "blocking_states", [record_id], with_history=True)[record_id]

    # ============================================================ writes
    def create(self, ctx: CallContext, requests: Sequence[SubscriptionRequest], *,
               entitlement_date: datetime | date | None = None, billing_date: datetime | date | None = None,
               migrated: bool = False) -> list[Subscription]:
        """Create a base (or standalone) with its add-ons, or add-ons to an existing bundle, in one
        transaction (Kill Bill's `createBaseEntitlementWithAddOns`)."""
        with self.db.transaction(ctx) as uow:
            return self.internal.create(uow, requests, entitlement_date=entitlement_date,
                                        billing_date=billing_date, migrated=migrated)

    def change_plan(self, ctx: CallContext, subscription_id: str, req: SubscriptionRequest, *,
                    requested_date: datetime | date | None = None, policy: BillingActionPolicy | None = None
                    ) -> Subscription:
        with self.db.transaction(ctx) as uow:
            return self.internal.change_plan(uow, subscription_id, req, requested_date=requested_date,
                                             policy=policy)

    def undo_change(self, ctx: CallContext, subscription_id: str) -> None:
        with self.db.transaction(ctx) as uow:
            self.internal.undo_change(uow, subscription_id)

    def cancel(self, ctx: CallContext, subscription_id: str, *, requested_date: datetime | date | None = None,
               entitlement_policy: EntitlementActionPolicy | None = None,
               billing_policy: BillingActionPolicy | None = None,
               use_requested_date_for_billing: bool = False) -> None:
        """Kill Bill's `cancelSubscriptionPlan` with its four combinations of date and policies."""
        with self.db.transaction(ctx) as uow:
            self.internal.cancel(uow, subscription_id, requested_date=requested_date,
                                 entitlement_policy=entitlement_policy, billing_policy=billing_policy,
                                 use_requested_date_for_billing=use_requested_date_for_billing)

    def uncancel(self, ctx: CallContext, subscription_id: str) -> None:
        with self.db.transaction(ctx) as uow:
            self.internal.uncancel(uow, subscription_id)

    def update_bcd(self, ctx: CallContext, subscription_id: str, bcd: int, effective_from: date | None = None
                   ) -> None:
        with self.db.transaction(ctx) as uow:
            self.internal.update_bcd(uow, subscription_id, bcd, effective_from)

    def update_quantity(self, ctx: CallContext, subscription_id: str, quantity: int,
                        effective_from: date | None = None, *, force_past: bool = False) -> None:
        with self.db.transaction(ctx) as uow:
            self.internal.update_quantity(uow, subscription_id, quantity, effective_from, force_past=force_past)

    def rename_bundle_key(self, ctx: CallContext, bundle_id: str, external_key: str | None) -> None:
        with self.db.transaction(ctx) as uow:
            self.internal.rename_bundle_key(uow, bundle_id, external_key)

    def transfer_bundle(self, ctx: CallContext, bundle_id: str, destination_account_id: str, *,
                        requested_date: date | datetime | None = None,
                        billing_policy: BillingActionPolicy = BillingActionPolicy.END_OF_TERM,
                        bcd_transfer: BcdTransfer = BcdTransfer.USE_EXISTING,
                        subscription_keys: Mapping[str, str] | None = None) -> Bundle:
        """Move a bundle to another account in one transaction (Kill Bill's `transferBundle`)."""
        with self.db.transaction(ctx) as uow:
            return self.internal.transfer_bundle(uow, bundle_id, destination_account_id,
                                                 requested_date=requested_date, billing_policy=billing_policy,
                                                 bcd_transfer=bcd_transfer, subscription_keys=subscription_keys)

    def pause_bundle(self, ctx: CallContext, bundle_id: str, requested_date: date | datetime | None = None) -> None:
        with self.db.transaction(ctx) as uow:
            self.internal.pause_bundle(uow, bundle_id, requested_date)

    def resume_bundle(self, ctx: CallContext, bundle_id: str, requested_date: date | datetime | None = None) -> None:
        with self.db.transaction(ctx) as uow:
            self.internal.resume_bundle(uow, bundle_id, requested_date)

    def add_blocking_state(self, ctx: CallContext, type_: BlockingStateType, blockable_id: str, state_name: str,
                           service: str, block_change: bool, block_entitlement: bool, block_billing: bool,
                           requested_date: date | datetime | None = None) -> Account:
        with self.db.transaction(ctx) as uow:
            return self.internal.add_blocking_state(uow, type_, blockable_id, state_name, service, block_change,
                                                    block_entitlement, block_billing, requested_date)
