"""The tenant's overdue configuration over HTTP (`/1.0/kb/overdue`, `/1.0/kb/overdue/xml`): Kill Bill's reference
files load and read back equal in both forms; malformed and hostile documents get a 400 naming the problem and
change nothing; an account's overdue state (`/1.0/kb/accounts/{id}/overdue`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from billow.overdue.json_view import config_json
from billow.overdue.xml import load_overdue_xml
from tests.conftest import KB

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "overdue"
FILES = sorted(REFERENCE.glob("*/*.xml"))
XML = {"Content-Type": "text/xml"}

OURS = """<overdueConfig>
  <accountOverdueStates>
    <initialReevaluationInterval><unit>DAYS</unit><number>3</number></initialReevaluationInterval>
    <state name="LATE">
      <condition>
        <numberOfUnpaidInvoicesEqualsOrExceeds>2</numberOfUnpaidInvoicesEqualsOrExceeds>
        <totalUnpaidInvoiceBalanceEqualsOrExceeds>99.5</totalUnpaidInvoiceBalanceEqualsOrExceeds>
        <timeSinceEarliestUnpaidInvoiceEqualsOrExceeds><unit>WEEKS</unit><number>2</number>
        </timeSinceEarliestUnpaidInvoiceEqualsOrExceeds>
        <responseForLastFailedPaymentIn><response>INSUFFICIENT_FUNDS</response><response>DECLINE</response>
        </responseForLastFailedPaymentIn>
        <controlTagExclusion>TEST</controlTagExclusion>
      </condition>
      <externalMessage>Pay &amp; stay</externalMessage>
      <blockChanges>true</blockChanges>
      <subscriptionCancellationPolicy>END_OF_TERM</subscriptionCancellationPolicy>
      <autoReevaluationInterval><unit>DAYS</unit><number>7</number></autoReevaluationInterval>
    </state>
  </accountOverdueStates>
</overdueConfig>"""


def _xml(kb: KB) -> str:
    r = kb.get("/1.0/kb/overdue/xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml"), r.text
    return str(r.text)


def _json(kb: KB) -> Any:
    r = kb.get("/1.0/kb/overdue", headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_new_tenant_has_kill_bills_default_configuration(kb: KB) -> None:
    assert _json(kb) == {"initialReevaluationInterval": None, "overdueStates": [{
        "name": "Clear", "isClearState": True, "condition": None, "externalMessage": "", "isBlockChanges": False,
        "isDisableEntitlement": False, "subscriptionCancellationPolicy": "NONE", "autoReevaluationIntervalDays": None}]}


def test_our_configuration_reads_back_equal_in_both_forms(kb: KB) -> None:
    r = kb.post("/1.0/kb/overdue/xml", content=OURS, headers=XML)
    assert r.status_code == 201, r.text
    assert r.headers["location"].endswith("/1.0/kb/overdue")
    assert load_overdue_xml(_xml(kb)) == load_overdue_xml(OURS)
    body = _json(kb)
    assert body == {"initialReevaluationInterval": 3, "overdueStates": [{
        "name": "LATE", "isClearState": False, "condition": {
            "timeSinceEarliestUnpaidInvoiceEqualsOrExceeds": {"unit": "WEEKS", "number": 2},
            "controlTagInclusion": None, "controlTagExclusion": "TEST", "numberOfUnpaidInvoicesEqualsOrExceeds": 2,
            "responseForLastFailedPayment": ["INSUFFICIENT_FUNDS", "DECLINE"],
            "totalUnpaidInvoiceBalanceEqualsOrExceeds": 99.5},
        "externalMessage": "Pay & stay", "isBlockChanges": True, "isDisableEntitlement": False,
        "subscriptionCancellationPolicy": "END_OF_TERM", "autoReevaluationIntervalDays": 7}]}
    # the XML GET with an Accept header on the bare path too (Kill Bill's resource answers both)
    r = kb.get("/1.0/kb/overdue", headers={"Accept": "text/xml"})
    assert load_overdue_xml(r.text) == load_overdue_xml(OURS)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_reference_file_loads_and_reads_back_equal(kb: KB, path: Path) -> None:
    document = path.read_bytes()
    r = kb.post("/1.0/kb/overdue/xml", content=document, headers=XML)
    assert r.status_code == 201, r.text
    expected = load_overdue_xml(document)
    assert load_overdue_xml(_xml(kb)) == expected
    body = _json(kb)
    assert body == config_json(expected)
    # the JSON form uploads back where Kill Bill's JSON rules allow it (time-based conditions in days, listed from
    # the longest delay): equal, but for the initial interval Kill Bill derives from the last state
    conditions = [s["condition"] for s in body["overdueStates"]]
    if all(c and c["timeSinceEarliestUnpaidInvoiceEqualsOrExceeds"] and
           c["timeSinceEarliestUnpaidInvoiceEqualsOrExceeds"]["unit"] == "DAYS" for c in conditions):
        r = kb.post("/1.0/kb/overdue", json=body)
        assert r.status_code == 201, r.text
        again = _json(kb)
        assert again["overdueStates"] == body["overdueStates"]
        assert again["initialReevaluationInterval"] == conditions[-1]["timeSinceEarliestUnpaidInvoiceEqualsOrExceeds"][
            "number"]
    else:
        r = kb.post("/1.0/kb/overdue", json=body)
        assert r.status_code == 400 and "timeSinceEarliestUnpaidInvoiceEqualsOrExceeds" in r.json()["message"]
        assert _json(kb) == body  # unchanged


def test_json_upload_derives_intervals_as_kill_bill_does(kb: KB) -> None:
    states = [{"name": n, "condition": {"timeSinceEarliestUnpaidInvoiceEqualsOrExceeds": {"unit": "DAYS",
                                                                                         "number": d}},
               "isBlockChanges": True, "isDisableEntitlement": n == "OD2"} for n, d in (("OD2", 40), ("OD1", 30))]
    r = kb.post("/1.0/kb/overdue", json={"initialReevaluationInterval": 99, "overdueStates": states})
    assert r.status_code == 201, r.text
    body = _json(kb)
    assert body["initialReevaluationInterval"] == 30  # the input is ignored: the last state's delay
    assert [(s["name"], s["autoReevaluationIntervalDays"]) for s in body["overdueStates"]] == [("OD2", None),
                                                                                            ("OD1", 10)]
    # states must go from the longest delay down
    r = kb.post("/1.0/kb/overdue", json={"overdueStates": list(reversed(states))})
    assert r.status_code == 400 and "longest delay" in r.json()["message"]


BAD = [
    ("not XML", "<overdueConfig>", "not well-formed"),
    ("billion laughs", '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                       "<overdueConfig>&b;</overdueConfig>", "refused XML construct"),
    ("external entity", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                        "<overdueConfig>&e;</overdueConfig>", "refused XML construct"),
    ("wrong root", "<catalog/>", "root element"),
    ("no states", "<overdueConfig><accountOverdueStates/></overdueConfig>", "at least one <state>"),
    ("unknown element", "<overdueConfig><accountOverdueStates><state name='A'><colour>red</colour></state>"
                        "</accountOverdueStates></overdueConfig>", "state[A]/colour: unknown element"),
    ("nameless state", "<overdueConfig><accountOverdueStates><state/></accountOverdueStates></overdueConfig>",
     "missing required attribute @name"),
    ("twice the same state", "<overdueConfig><accountOverdueStates><state name='A'/><state name='A'/>"
                             "</accountOverdueStates></overdueConfig>", "defined twice"),
    ("bad unit", "<overdueConfig><accountOverdueStates><state name='A'><autoReevaluationInterval><unit>HOURS</unit>"
                 "<number>1</number></autoReevaluationInterval></state></accountOverdueStates></overdueConfig>",
     "autoReevaluationInterval/unit: 'HOURS' is not a time unit"),
    ("negative duration", "<overdueConfig><accountOverdueStates><state name='A'><condition>"
                          "<timeSinceEarliestUnpaidInvoiceEqualsOrExceeds><unit>DAYS</unit><number>-3</number>"
                          "</timeSinceEarliestUnpaidInvoiceEqualsOrExceeds></condition></state>"
                          "</accountOverdueStates></overdueConfig>", "is negative"),
    ("bad number", "<overdueConfig><accountOverdueStates><state name='A'><condition>"
                   "<numberOfUnpaidInvoicesEqualsOrExceeds>two</numberOfUnpaidInvoicesEqualsOrExceeds></condition>"
                   "</state></accountOverdueStates></overdueConfig>", "'two' is not an integer"),
    ("unknown tag", "<overdueConfig><accountOverdueStates><state name='A'><condition><controlTagInclusion>VIP"
                    "</controlTagInclusion></condition></state></accountOverdueStates></overdueConfig>",
     "'VIP' is not a control tag"),
    ("bad policy", "<overdueConfig><accountOverdueStates><state name='A'><subscriptionCancellationPolicy>SOON"
                   "</subscriptionCancellationPolicy></state></accountOverdueStates></overdueConfig>",
     "not a cancellation policy"),
]


@pytest.mark.parametrize(("document", "problem"), [(d, p) for _, d, p in BAD], ids=[n for n, _, _ in BAD])
def test_malformed_and_hostile_documents_are_refused_and_change_nothing(kb: KB, document: str, problem: str) -> None:
    assert kb.post("/1.0/kb/overdue/xml", content=OURS, headers=XML).status_code == 201
    before = _xml(kb)
    r = kb.post("/1.0/kb/overdue/xml", content=document, headers=XML)
    assert r.status_code == 400, r.text
    assert problem in r.json()["message"]
    assert "Traceback" not in r.text and "/work" not in r.text
    assert _xml(kb) == before


def test_json_uploads_that_kill_bill_refuses_are_refused(kb: KB) -> None:
    for body, problem in (({"overdueStates": "x"}, "overdueStates"),
                          ({"overdueStates": [{"condition": {}}]}, "name"),
                          ({"overdueStates": [{"name": "A"}]}, "condition"),
                          ({"overdueStates": [{"name": "A", "condition": {
                              "timeSinceEarliestUnpaidInvoiceEqualsOrExceeds": {"unit": "MONTHS", "number": 1}}}]},
                           "is not DAYS"),
                          ({"overdueStates": [{"name": "A", "condition": {
                              "timeSinceEarliestUnpaidInvoiceEqualsOrExceeds": {"unit": "DAYS", "number": 0}}}]},
                           "positive number of days")):
        r = kb.post("/1.0/kb/overdue", json=body)
        assert r.status_code == 400, (body, r.text)
        assert problem in r.json()["message"], (body, r.text)
    r = kb.post("/1.0/kb/overdue", content=b"{", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "malformed JSON" in r.json()["message"]


def test_an_accounts_overdue_state(kb: KB) -> None:
    r = kb.post("/1.0/kb/accounts", json={"name": "A", "currency": "USD"})
    assert r.status_code == 201
    account_id = r.headers["location"].rsplit("/", 1)[1]
    r = kb.get(f"/1.0/kb/accounts/{account_id}/overdue")
    assert r.status_code == 200
    assert r.json() == {"name": "__KILLBILL__CLEAR__OVERDUE_STATE__", "externalMessage": "",
                        "isDisableEntitlementAndChangesBlocked": False, "isBlockChanges": False,
                        "isClearState": True, "reevaluationIntervalDays": None}
    r = kb.get("/1.0/kb/accounts/8c5bd2a4-8a5b-4e8c-9d43-0d1d4f3a3a3a/overdue")
    assert r.status_code == 404
