"""Kill Bill's overdue JSON (`OverdueJson`, `OverdueStateConfigJson`, `OverdueConditionJson`, `OverdueStateJson`,
jaxrs/.../json): the configuration and an account's state as the REST API shows them, and a configuration uploaded
as JSON (`OverdueJson.toOverdueConfigWithValidation`: time-based conditions in DAYS only, states listed from the
longest delay down, re-evaluation intervals derived from the gaps). ../shared/spec/platform.md B.5.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from billow.overdue.errors import OverdueConfigError, Problem
from billow.overdue.model import (
    CancellationPolicy,
    Duration,
    OverdueCondition,
    OverdueConfig,
    OverdueState,
    PaymentResponse,
    TimeUnit,
)
from billow.overdue.xml import CONTROL_TAG_NAMES, MAX_STATE_NAME


def _period_days(d: Duration | None) -> int | None:
    """Joda's `Period.getDays()` of a duration: its number for DAYS, 0 for weeks, months and years (the period has
    no days field); None when the duration is not set (Kill Bill's getter throws, the JSON shows null)."""
    if d is None or not d.is_set:
        return None
    return d.number if d.unit is TimeUnit.DAYS else 0


def _money(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)


def condition_json(c: OverdueCondition) -> dict[str, Any]:
    since = c.time_since_earliest_unpaid
    return {
        "timeSinceEarliestUnpaidInvoiceEqualsOrExceeds": (
            {"unit": since.unit.value, "number": since.number} if since is not None else None),
        "controlTagInclusion": c.control_tag_inclusion,
        "controlTagExclusion": c.control_tag_exclusion,
        "numberOfUnpaidInvoicesEqualsOrExceeds": c.number_of_unpaid_invoices,
        "responseForLastFailedPayment": [r.value for r in c.responses] if c.responses is not None else None,
        "totalUnpaidInvoiceBalanceEqualsOrExceeds": (
            _money(c.total_unpaid_balance) if c.total_unpaid_balance is not None else None),
    }


def state_config_json(s: OverdueState) -> dict[str, Any]:
    return {"name": s.name, "isClearState": s.is_clear,
            "condition": condition_json(s.condition) if s.condition is not None else None,
            "externalMessage": s.external_message, "isBlockChanges": s.block_changes,
            "isDisableEntitlement": s.disable_entitlement,
            "subscriptionCancellationPolicy": s.cancellation_policy.value,
            "autoReevaluationIntervalDays": _period_days(s.auto_reevaluation)}


def config_json(config: OverdueConfig) -> dict[str, Any]:
    return {"initialReevaluationInterval": _period_days(config.initial_reevaluation),
            "overdueStates": [state_config_json(s) for s in config.states]}


def state_json(s: OverdueState) -> dict[str, Any]:
    """An account's overdue state (`OverdueStateJson`)."""
    return {"name": s.name, "externalMessage": s.external_message,
            "isDisableEntitlementAndChangesBlocked": s.disable_entitlement, "isBlockChanges": s.block_changes,
            "isClearState": s.is_clear, "reevaluationIntervalDays": _period_days(s.auto_reevaluation)}


# -- upload --------------------------------------------------------------------------------------------
def _condition_from_json(raw: Any, path: str, problems: list[Problem]) -> OverdueCondition | None:
    if not isinstance(raw, dict):
        problems.append(Problem(path, "needs to be set (only timeSinceEarliestUnpaidInvoiceEqualsOrExceeds "
                                      "conditions can be uploaded as JSON)"))
        return None
    since_raw = raw.get("timeSinceEarliestUnpaidInvoiceEqualsOrExceeds")
    where = f"{path}.timeSinceEarliestUnpaidInvoiceEqualsOrExceeds"
    if not isinstance(since_raw, dict):
        problems.append(Problem(where, "needs to be set (the only condition Kill Bill accepts in JSON)"))
        return None
    if since_raw.get("unit") != TimeUnit.DAYS.value:
        problems.append(Problem(f"{where}.unit", f"{since_raw.get('unit')!r} is not DAYS"))
        return None
    number = since_raw.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        problems.append(Problem(f"{where}.number", f"{number!r} is not a positive number of days"))
        return None
    count = raw.get("numberOfUnpaidInvoicesEqualsOrExceeds")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        problems.append(Problem(f"{path}.numberOfUnpaidInvoicesEqualsOrExceeds", f"{count!r} is not an integer"))
        count = None
    total = raw.get("totalUnpaidInvoiceBalanceEqualsOrExceeds")
    total_value = None
    if total is not None:
        try:
            if isinstance(total, bool):
                raise InvalidOperation
            total_value = Decimal(str(total))
            if not total_value.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            problems.append(Problem(f"{path}.totalUnpaidInvoiceBalanceEqualsOrExceeds", f"{total!r} is not a number"))
    responses = raw.get("responseForLastFailedPayment")
    parsed: tuple[PaymentResponse, ...] | None = None
    if responses is not None:
        if not isinstance(responses, list) or not all(r in PaymentResponse.__members__ for r in responses):
            problems.append(Problem(f"{path}.responseForLastFailedPayment", "must list payment responses ("
                                    + ", ".join(PaymentResponse.__members__) + ")"))
        else:
            parsed = tuple(PaymentResponse(r) for r in responses)
    tags: dict[str, str | None] = {}
    for key in ("controlTagInclusion", "controlTagExclusion"):
        value = raw.get(key)
        if value is not None and value not in CONTROL_TAG_NAMES:
            problems.append(Problem(f"{path}.{key}", f"{value!r} is not a control tag"))
            value = None
        tags[key] = value
    return OverdueCondition(count, total_value, Duration(TimeUnit.DAYS, number), parsed,
                            tags["controlTagInclusion"], tags["controlTagExclusion"])


def config_from_json(body: Any) -> OverdueConfig:
    """`OverdueJson.toOverdueConfigWithValidation`; `OverdueConfigError` names every problem."""
    problems: list[Problem] = []
    if not isinstance(body, dict) or not isinstance(body.get("overdueStates"), list):
        raise OverdueConfigError([Problem("overdueStates", "needs to be a list of states")])
    states: list[OverdueState] = []
    previous = -1
    names: set[str] = set()
    for i, raw in enumerate(body["overdueStates"]):
        path = f"overdueStates[{i}]"
        if not isinstance(raw, dict):
            problems.append(Problem(path, "needs to be an object"))
            continue
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            problems.append(Problem(f"{path}.name", "needs to be set"))
            continue
        if len(name) > MAX_STATE_NAME or name in names:
            problems.append(Problem(f"{path}.name", f"{name[:60]!r} is longer than {MAX_STATE_NAME} characters"
                                    if len(name) > MAX_STATE_NAME else f"state {name!r} is defined twice"))
        names.add(name)
        condition = _condition_from_json(raw.get("condition"), f"{path}.condition", problems)
        if condition is None or condition.time_since_earliest_unpaid is None:
            continue
        days = condition.time_since_earliest_unpaid.number
        interval = _reevaluation(raw.get("autoReevaluationIntervalDays"), previous, days, f"{path}", problems)
        policy_raw = raw.get("subscriptionCancellationPolicy")
        if policy_raw is not None and policy_raw not in CancellationPolicy.__members__:
            problems.append(Problem(f"{path}.subscriptionCancellationPolicy",
                                    f"{policy_raw!r} is not END_OF_TERM, IMMEDIATE or NONE"))
            policy_raw = None
        flags = {}
        for key in ("isClearState", "isBlockChanges", "isDisableEntitlement"):
            value = raw.get(key)
            if value is not None and not isinstance(value, bool):
                problems.append(Problem(f"{path}.{key}", f"{value!r} is not a boolean"))
            flags[key] = bool(value) if isinstance(value, bool) else False
        message = raw.get("externalMessage")
        states.append(OverdueState(
            name, condition, message if isinstance(message, str) else "", flags["isBlockChanges"],
            flags["isDisableEntitlement"], CancellationPolicy(policy_raw) if policy_raw else CancellationPolicy.NONE,
            flags["isClearState"], interval))
        previous = days
    if problems:
        raise OverdueConfigError(problems)
    if not states:
        raise OverdueConfigError([Problem("overdueStates", "at least one state is required")])
    # Kill Bill ignores the uploaded initialReevaluationInterval: the last (shortest) delay is used
    initial = _reevaluation(None, previous, 0, "initialReevaluationInterval", problems)
    return OverdueConfig(tuple(states), initial)


def _reevaluation(given: Any, previous: int, current: int, path: str, problems: list[Problem]) -> Duration | None:
    """`computeReevaluationInterval`: the given number of days, else the gap to the previous (longer) state."""
    if isinstance(given, int) and not isinstance(given, bool) and given > 0:
        return Duration(TimeUnit.DAYS, given)
    if previous == -1:
        return None
    if previous - current <= 0:
        problems.append(Problem(path, "states must be listed from the longest delay to the shortest "
                                      f"({current} days follows {previous} days)"))
        return None
    return Duration(TimeUnit.DAYS, previous - current)
