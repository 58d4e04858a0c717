"""Kill Bill's overdue XML (`overdue.xml`, `DefaultOverdueConfig`): loader and writer.

The document is parsed with defusedxml (DTDs, entities and external references refused), bodies over
`MAX_OVERDUE_BYTES` are refused before parsing, and every element is checked against Kill Bill's schema: an unknown,
repeated or missing element, a bad number, an unknown enum value or state name is reported with its path
(`overdueConfig/accountOverdueStates/state[OD1]/condition/...`). Every problem found is reported at once.
../shared/spec/platform.md B.1.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TypeVar
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape, quoteattr

import defusedxml
import defusedxml.ElementTree as DET

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
from billow.tag.model import CONTROL_TAGS

MAX_OVERDUE_BYTES = 1024 * 1024
MAX_STATE_NAME = 50  # blocking_states.state
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
CONTROL_TAG_NAMES = frozenset(t.name for t in CONTROL_TAGS)

_STATE_CHILDREN = ("condition", "externalMessage", "blockChanges", "disableEntitlementAndChangesBlocked",
                   "subscriptionCancellationPolicy", "isClearState", "autoReevaluationInterval",
                   "enterStateEmailNotification")
_CONDITION_CHILDREN = ("numberOfUnpaidInvoicesEqualsOrExceeds", "totalUnpaidInvoiceBalanceEqualsOrExceeds",
                       "timeSinceEarliestUnpaidInvoiceEqualsOrExceeds", "responseForLastFailedPaymentIn",
                       "controlTagInclusion", "controlTagExclusion")
T = TypeVar("T")


class _Reader:
    """Collects every problem of one document."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def children(self, el: Element, path: str, allowed: tuple[str, ...], repeatable: tuple[str, ...] = ()
                 ) -> dict[str, list[Element]]:
        """The element children by name; unknown names, text and repeats of a single element are problems."""
        out: dict[str, list[Element]] = {}
        if el.text and el.text.strip():
            self.fail(path, f"unexpected text {el.text.strip()[:40]!r} inside <{el.tag}>")
        for child in el:
            if not isinstance(child.tag, str):  # a comment or processing instruction
                continue
            if child.tag not in allowed:
                self.fail(f"{path}/{child.tag}", f"unknown element <{child.tag}> (allowed in <{el.tag}>: "
                          f"{', '.join(allowed)})")
                continue
            if child.tag in out and child.tag not in repeatable:
                self.fail(f"{path}/{child.tag}", f"element <{child.tag}> is repeated")
                continue
            out.setdefault(child.tag, []).append(child)
        return out

    def attributes(self, el: Element, path: str, allowed: tuple[str, ...]) -> None:
        for key in el.attrib:
            if not key.startswith(XSI) and key not in allowed:
                self.fail(path, f"unexpected attribute @{key} on <{el.tag}>")

    def text(self, el: Element) -> str:
        if len([c for c in el if isinstance(c.tag, str)]):
            return ""
        return (el.text or "").strip()

    def value(self, el: Element, path: str, parse: Callable[[str], T], what: str) -> T | None:
        raw = self.text(el)
        try:
            return parse(raw)
        except (ValueError, InvalidOperation, KeyError):
            self.fail(path, f"{raw[:40]!r} is not {what}")
            return None

    def boolean(self, el: Element, path: str) -> bool | None:
        return self.value(el, path, _xs_boolean, "a boolean (true or false)")

    def duration(self, el: Element, path: str) -> Duration | None:
        kids = self.children(el, path, ("unit", "number"))
        if "unit" not in kids:
            self.fail(path, f"missing required element <unit> in <{el.tag}>")
            return None
        unit = self.value(kids["unit"][0], f"{path}/unit", TimeUnit, "a time unit (DAYS, WEEKS, MONTHS, YEARS, "
                                                                       "UNLIMITED)")
        number = -1  # Kill Bill's default when <number> is absent
        if "number" in kids:
            parsed = self.value(kids["number"][0], f"{path}/number", _xs_int, "an integer")
            if parsed is None:
                return None
            if parsed < 0:
                self.fail(f"{path}/number", f"{parsed} is negative")
                return None
            number = parsed
        elif unit is not None and unit is not TimeUnit.UNLIMITED:
            self.fail(path, f"missing element <number> in <{el.tag}> (unit {unit.value})")
            return None
        return Duration(unit, number) if unit is not None else None


def _xs_boolean(raw: str) -> bool:
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise ValueError(raw)


def _xs_int(raw: str) -> int:
    if not raw or not raw.lstrip("+-").isdigit():
        raise ValueError(raw)
    return int(raw)


def _decimal(raw: str) -> Decimal:
    value = Decimal(raw)
    if not value.is_finite():
        raise ValueError(raw)
    return value


def load_overdue_xml(document: str | bytes) -> OverdueConfig:
    """A tenant's overdue XML as a validated configuration; `OverdueConfigError` lists every problem."""
    data = document.encode("utf-8") if isinstance(document, str) else document
    if len(data) > MAX_OVERDUE_BYTES:
        raise OverdueConfigError([Problem("", f"the document is larger than {MAX_OVERDUE_BYTES} bytes")])
    try:
        root = DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise OverdueConfigError([Problem("", f"refused XML construct ({type(exc).__name__}): DTDs, entities and "
                                              "external references are not allowed")]) from None
    except ParseError as exc:
        raise OverdueConfigError([Problem("", f"not well-formed XML: {exc}")]) from None
    r = _Reader()
    if root.tag != "overdueConfig":
        raise OverdueConfigError([Problem(root.tag, "the root element must be <overdueConfig>")])
    r.attributes(root, "overdueConfig", ())
    kids = r.children(root, "overdueConfig", ("accountOverdueStates",))
    if "accountOverdueStates" not in kids:
        r.fail("overdueConfig", "missing required element <accountOverdueStates>")
        raise OverdueConfigError(r.problems)
    config = _states(r, kids["accountOverdueStates"][0], "overdueConfig/accountOverdueStates")
    if r.problems:
        raise OverdueConfigError(r.problems)
    return config


def _states(r: _Reader, el: Element, path: str) -> OverdueConfig:
    r.attributes(el, path, ())
    kids = r.children(el, path, ("initialReevaluationInterval", "state"), repeatable=("state",))
    initial = None
    if "initialReevaluationInterval" in kids:
        initial = r.duration(kids["initialReevaluationInterval"][0], f"{path}/initialReevaluationInterval")
    states: list[OverdueState] = []
    seen: set[str] = set()
    for i, state_el in enumerate(kids.get("state", [])):
        name = state_el.get("name")
        where = f"{path}/state[{name if name else i + 1}]"
        if not name:
            r.fail(where, "missing required attribute @name on <state>")
            continue
        if len(name) > MAX_STATE_NAME:
            r.fail(where, f"the state name is longer than {MAX_STATE_NAME} characters")
        if name in seen:
            r.fail(where, f"state {name!r} is defined twice")
        seen.add(name)
        state = _state(r, state_el, where, name)
        if state is not None:
            states.append(state)
    if not kids.get("state"):
        r.fail(path, "at least one <state> is required")
    return OverdueConfig(tuple(states), initial)


def _state(r: _Reader, el: Element, path: str, name: str) -> OverdueState | None:
    r.attributes(el, path, ("name",))
    kids = r.children(el, path, _STATE_CHILDREN)

    def one(tag: str) -> Element | None:
        found = kids.get(tag)
        return found[0] if found else None

    condition = _condition(r, c, f"{path}/condition") if (c := one("condition")) is not None else None
    message = r.text(m) if (m := one("externalMessage")) is not None else ""
    flags: dict[str, bool] = {}
    for tag in ("blockChanges", "disableEntitlementAndChangesBlocked", "isClearState"):
        found = one(tag)
        flags[tag] = bool(r.boolean(found, f"{path}/{tag}")) if found is not None else False
    policy = CancellationPolicy.NONE
    if (p := one("subscriptionCancellationPolicy")) is not None:
        policy = r.value(p, f"{path}/subscriptionCancellationPolicy", CancellationPolicy,
                         "a cancellation policy (END_OF_TERM, IMMEDIATE, NONE)") or CancellationPolicy.NONE
    interval = r.duration(a, f"{path}/autoReevaluationInterval") if (a := one("autoReevaluationInterval")) \
        is not None else None
    # <enterStateEmailNotification> is deprecated in Kill Bill and ignored there too
    return OverdueState(name, condition, message, flags["blockChanges"], flags["disableEntitlementAndChangesBlocked"],
                        policy, flags["isClearState"], interval)


def _condition(r: _Reader, el: Element, path: str) -> OverdueCondition:
    r.attributes(el, path, ())
    kids = r.children(el, path, _CONDITION_CHILDREN)

    def one(tag: str) -> Element | None:
        found = kids.get(tag)
        return found[0] if found else None

    count = total = since = responses = include = exclude = None
    if (e := one("numberOfUnpaidInvoicesEqualsOrExceeds")) is not None:
        count = r.value(e, f"{path}/numberOfUnpaidInvoicesEqualsOrExceeds", _xs_int, "an integer")
    if (e := one("totalUnpaidInvoiceBalanceEqualsOrExceeds")) is not None:
        total = r.value(e, f"{path}/totalUnpaidInvoiceBalanceEqualsOrExceeds", _decimal, "a decimal number")
    if (e := one("timeSinceEarliestUnpaidInvoiceEqualsOrExceeds")) is not None:
        since = r.duration(e, f"{path}/timeSinceEarliestUnpaidInvoiceEqualsOrExceeds")
    if (e := one("responseForLastFailedPaymentIn")) is not None:
        where = f"{path}/responseForLastFailedPaymentIn"
        found = r.children(e, where, ("response",), repeatable=("response",))
        values = [r.value(x, f"{where}/response", PaymentResponse, "a payment response (" +
                          ", ".join(p.value for p in PaymentResponse) + ")") for x in found.get("response", [])]
        responses = tuple(v for v in values if v is not None)
    for tag in ("controlTagInclusion", "controlTagExclusion"):
        if (e := one(tag)) is not None:
            tag_name = r.text(e)
            if tag_name not in CONTROL_TAG_NAMES:
                r.fail(f"{path}/{tag}",
                       f"{tag_name[:40]!r} is not a control tag ({', '.join(sorted(CONTROL_TAG_NAMES))})")
            elif tag == "controlTagInclusion":
                include = tag_name
            else:
                exclude = tag_name
    return OverdueCondition(count, total, since, responses, include, exclude)


# -- writing ----------------------------------------------------------------------------------------
def _duration_xml(tag: str, d: Duration, indent: str) -> list[str]:
    number = f"<number>{d.number}</number>" if d.number >= 0 else ""
    return [f"{indent}<{tag}><unit>{d.unit.value}</unit>{number}</{tag}>"]


def dump_overdue_xml(config: OverdueConfig) -> str:
    """The configuration as Kill Bill's XML (loads back to an equal configuration)."""
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', "<overdueConfig>", "    <accountOverdueStates>"]
    if config.initial_reevaluation is not None:
        out += _duration_xml("initialReevaluationInterval", config.initial_reevaluation, " " * 8)
    for s in config.states:
        out.append(f"        <state name={quoteattr(s.name)}>")
        ind = " " * 12
        if s.condition is not None:
            c = s.condition
            out.append(f"{ind}<condition>")
            ci = " " * 16
            if c.number_of_unpaid_invoices is not None:
                out.append(f"{ci}<numberOfUnpaidInvoicesEqualsOrExceeds>{c.number_of_unpaid_invoices}"
                           "</numberOfUnpaidInvoicesEqualsOrExceeds>")
            if c.total_unpaid_balance is not None:
                out.append(f"{ci}<totalUnpaidInvoiceBalanceEqualsOrExceeds>{c.total_unpaid_balance}"
                           "</totalUnpaidInvoiceBalanceEqualsOrExceeds>")
            if c.time_since_earliest_unpaid is not None:
                out += _duration_xml("timeSinceEarliestUnpaidInvoiceEqualsOrExceeds", c.time_since_earliest_unpaid, ci)
            if c.responses is not None:
                out.append(f"{ci}<responseForLastFailedPaymentIn>" + "".join(
                    f"<response>{p.value}</response>" for p in c.responses) + "</responseForLastFailedPaymentIn>")
            if c.control_tag_inclusion is not None:
                out.append(f"{ci}<controlTagInclusion>{c.control_tag_inclusion}</controlTagInclusion>")
            if c.control_tag_exclusion is not None:
                out.append(f"{ci}<controlTagExclusion>{c.control_tag_exclusion}</controlTagExclusion>")
            out.append(f"{ind}</condition>")
        out.append(f"{ind}<externalMessage>{escape(s.external_message)}</externalMessage>")
        out.append(f"{ind}<blockChanges>{str(s.block_changes).lower()}</blockChanges>")
        out.append(f"{ind}<disableEntitlementAndChangesBlocked>{str(s.disable_entitlement).lower()}"
                   "</disableEntitlementAndChangesBlocked>")
        out.append(f"{ind}<subscriptionCancellationPolicy>{s.cancellation_policy.value}"
                   "</subscriptionCancellationPolicy>")
        out.append(f"{ind}<isClearState>{str(s.is_clear).lower()}</isClearState>")
        if s.auto_reevaluation is not None:
            out += _duration_xml("autoReevaluationInterval", s.auto_reevaluation, ind)
        out.append("        </state>")
    out += ["    </accountOverdueStates>", "</overdueConfig>", ""]
    return "\n".join(out)
