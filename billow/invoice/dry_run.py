"""Dry runs (pure): the invoice a run would make, replayed in memory, nothing written (billing-semantics.md 4.9).

Kill Bill's `InvoiceDispatcher` dry runs: TARGET_DATE replays the runs the account would have until the
target date; UPCOMING_INVOICE finds the next invoice (of a subscription or bundle, or of the account);
SUBSCRIPTION_ACTION invoices the account as it would be after a subscription action (the entitlement
service's what-if), as of the action's date.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime

from billow.catalog.model import Catalog
from billow.core.errors import InvalidInput
from billow.entitlement.model import BillingActionPolicy, SubscriptionRequest
from billow.invoice.billing_run import AccountState, Outcome, run_once
from billow.invoice.generator import GeneratorConfig
from billow.invoice.model import Invoice
from billow.junction.model import BillingEvent

KINDS = ("TARGET_DATE", "UPCOMING_INVOICE", "SUBSCRIPTION_ACTION")


@dataclass(frozen=True, slots=True)
class DryRunRequest:
    """InvoiceDryRunJson: TARGET_DATE, UPCOMING_INVOICE or SUBSCRIPTION_ACTION (spec 4.9)."""

    dry_run_type: str = "TARGET_DATE"
    subscription_id: str | None = None
    bundle_id: str | None = None
    # SUBSCRIPTION_ACTION: START_BILLING, CHANGE or STOP_BILLING, the plan asked for, its date or policy
    action: str | None = None
    plan: SubscriptionRequest | None = None
    effective_date: date | None = None
    billing_policy: BillingActionPolicy | None = None

    @property
    def kind(self) -> str:
        kind = (self.dry_run_type or "TARGET_DATE").upper()
        if kind not in KINDS:
            raise InvalidInput(f"dryRunType: '{self.dry_run_type}' is not one of TARGET_DATE, UPCOMING_INVOICE, "
                               "SUBSCRIPTION_ACTION")
        return kind


@dataclass
class Replay:
    """What a dry run replays: the account's state and billing events, its pending billing dates, now."""

    state: AccountState
    catalog: Catalog | None
    events: list[BillingEvent]
    pending: list[tuple[str, date]]
    now: datetime
    config: GeneratorConfig

    def __post_init__(self) -> None:
        time = self.state.account.time
        self.next_events: dict[str, date] = {}
        for ev in self.events:
            if ev.effective_date > self.now and ev.subscription_id not in self.next_events:
                self.next_events[ev.subscription_id] = time.local_date(ev.effective_date)
        self.candidates = sorted({d for _, d in self.pending} | set(self.next_events.values()))

    def run(self, state: AccountState, day: date) -> Outcome | None:
        return run_once(state, self.catalog, day, self.now, self.config, api=True, events=self.events)

    def fresh(self) -> AccountState:
        return dataclasses.replace(self.state, invoices=list(self.state.invoices))

    def until(self, day: date) -> Invoice | None:
        """The invoice of the run at `day`, after every run the account would have had before it."""
        time = self.state.account.time
        st = self.fresh()
        latest = max((inv for inv in st.invoices if inv.target_date is not None),
                     key=lambda inv: inv.target_date or date.min, default=None)
        queue = set(self.candidates)
        for ev in self.events:
            d = time.local_date(ev.effective_date)
            if latest is None or (latest.target_date is not None and latest.target_date < d):
                queue.add(d)
        last: Invoice | None = None
        prev: date | None = None
        while queue:
            cur = min(queue)
            queue.discard(cur)
            if cur > day:
                break
            out = self.run(st, cur)
            last = out.invoice if out is not None else None
            if out is not None and out.invoice is not None:
                queue.update(k for _, k in out.next_dates if cur < k < day)
            prev = cur
        if prev == day:
            return last
        out = self.run(st, day)
        return out.invoice if out is not None and out.invoice is not None else last

    def upcoming(self, subscription_id: str | None, bundle_id: str | None) -> Invoice | None:
        """The next invoice of a subscription, of a bundle, or of the account."""
        subs: set[str] = set()
        if subscription_id:
            subs = {subscription_id}
        elif bundle_id:
            subs = {ev.subscription_id for ev in self.events if ev.bundle_id == bundle_id}
        if not subs:
            for day in self.candidates:
                out = self.run(self.fresh(), day)
                if out is not None and out.invoice is not None:
                    return out.invoice
            return None
        days = sorted({d for s, d in self.pending if s in subs} | {d for s, d in self.next_events.items() if s in subs})
        for day in days:
            found = self.until(day)
            if found is not None:
                return found
        return None


def dry_run(replay: Replay, request: DryRunRequest, target: date | None) -> Invoice | None:
    """The invoice a dry run shows, or None when there is nothing to invoice."""
    if request.kind == "UPCOMING_INVOICE":
        return replay.upcoming(request.subscription_id, request.bundle_id)
    return replay.until(target or replay.state.account.time.local_date(replay.now))
