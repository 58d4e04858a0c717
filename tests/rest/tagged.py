"""One of each object tags and custom fields hang on, made over HTTP in a `kb` client's tenant."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.conftest import KB, id_from_location

CATALOG = (Path(__file__).resolve().parents[1] / "entitlement" / "data" / "entitlement.xml").read_text()
UNKNOWN = "0b7f1c2d-0000-4000-8000-000000000000"


@dataclass
class Objs:
    account: str
    bundle: str
    subscription: str
    invoice: str
    item: str


def tagged_objects(kb: KB) -> Objs:
    kb.post("/1.0/kb/test/clock", params={"requestedDate": "2024-01-15T10:00:00.000Z"}).raise_for_status()
    assert kb.post("/1.0/kb/catalog/xml", content=CATALOG, headers={"Content-Type": "text/xml"}).status_code == 201
    account = id_from_location(kb.post("/1.0/kb/accounts", json={"name": "Tagged", "currency": "USD"}))
    sub = id_from_location(kb.post("/1.0/kb/subscriptions", json={"accountId": account,
                                                                  "planName": "silver-monthly"}))
    kb.get("/1.0/kb/test/queues", params={"timeoutSec": 10})
    bundle = kb.get(f"/1.0/kb/subscriptions/{sub}").json()["bundleId"]
    invoice = kb.get(f"/1.0/kb/accounts/{account}/invoices", params={"includeInvoiceComponents": "true"}).json()[0]
    return Objs(account, bundle, sub, invoice["invoiceId"], invoice["items"][0]["invoiceItemId"])


