"""Overdue evaluation: which state a billing state puts an account in (pure; Kill Bill's `DefaultOverdueStateSet`
`calculateOverdueState` and `DefaultOverdueCondition.evaluate`; ../shared/spec/platform.md B.1 and B.2).
"""

from __future__ import annotations

from datetime import date

from billow.overdue.model import CLEAR_STATE, BillingState, OverdueCondition, OverdueConfig, OverdueState


def condition_holds(c: OverdueCondition, billing: BillingState, today: date) -> bool:
    """Every clause present holds (an absent clause holds); dates are the account's local dates."""
    if c.number_of_unpaid_invoices is not None and billing.unpaid_invoice_count < c.number_of_unpaid_invoices:
        return False
    if c.total_unpaid_balance is not None and billing.unpaid_balance < c.total_unpaid_balance:
        return False
    since = c.time_since_earliest_unpaid
    if since is not None and since.is_set:
        earliest = billing.earliest_unpaid_invoice_date
        if earliest is None or since.add_to(earliest) > today:
            return False
    if c.responses is not None and billing.last_failed_payment_response not in c.responses:
        return False
    if c.control_tag_inclusion is not None and c.control_tag_inclusion not in billing.control_tags:
        return False
    return not (c.control_tag_exclusion is not None and c.control_tag_exclusion in billing.control_tags)


def evaluate(config: OverdueConfig, billing: BillingState, today: date) -> OverdueState:
    """The first state, in file order, whose condition is present and holds; else the clear state (Kill Bill lists
    the most severe state first)."""
    for state in config.states:
        if state.condition is not None and condition_holds(state.condition, billing, today):
            return state
    return CLEAR_STATE
