"""Catalog benchmark: load time of the largest reference catalog and lookups per second.

Run: ``python bench/catalog.py [--seconds 0.5]``.  Uses Kill Bill's largest reference
catalog from ../shared/reference/catalogs when present, else Billow's default catalog.
Prints figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from billow.catalog import engine as e
from billow.catalog.defaults import DEFAULT_CATALOG_PATH
from billow.catalog.engine import PlanPhaseSpecifier, PlanSpecifier
from billow.catalog.model import Catalog, PhaseType
from billow.catalog.versions import plan_for_subscription
from billow.catalog.xml import dump_xml, load_version_xml
from billow.catalog.yaml_json import dump_yaml, load_version_yaml

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "catalogs"


def pick_catalog() -> Path:
    files = sorted(REFERENCE.rglob("*.xml"), key=lambda p: p.stat().st_size) if REFERENCE.is_dir() else []
    return files[-1] if files else DEFAULT_CATALOG_PATH


def timed(fn: Callable[[], object], seconds: float) -> tuple[float, int]:
    """Calls per second of ``fn`` over about ``seconds`` (batches of 100)."""
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            fn()
        n += 100
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start), n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=0.5, help="time spent on each lookup")
    args = parser.parse_args()

    path = pick_catalog()
    data = path.read_bytes()
    runs = 20
    t0 = time.perf_counter()
    for _ in range(runs):
        version = load_version_xml(data)
    load_ms = (time.perf_counter() - t0) / runs * 1000
    print(f"catalog: {path.name} ({len(data) / 1024:.1f} KiB, {len(version.products)} products, "
          f"{len(version.plans)} plans)")
    print(f"load XML (parse + defaults + validation): {load_ms:.2f} ms")
    t0 = time.perf_counter()
    text = dump_xml(version)
    print(f"dump XML: {(time.perf_counter() - t0) * 1000:.2f} ms; "
          f"YAML round trip: {_ms(lambda: load_version_yaml(dump_yaml(version)))} ms")

    plans = list(version.plans)
    plan = next((p for p in plans if p.initial_phases), plans[0])
    other = next(p for p in plans if p.name != plan.name)
    phase = plan.final_phase
    currency = version.currencies[0]
    period = plan.recurring_billing_period
    catalog = Catalog((version,))
    when = datetime(2030, 1, 1, tzinfo=UTC)
    frm = PlanPhaseSpecifier(plan_name=plan.name, phase_type=PhaseType.EVERGREEN)
    to = PlanSpecifier(plan_name=other.name)
    phase_names = [ph.name for p in plans for ph in p.all_phases]
    assert load_version_xml(text) == version

    def recurring() -> object:
        try:
            return e.recurring_price(phase, currency)
        except Exception:  # noqa: BLE001 - a plan without a price in that currency
            return None

    lookups: list[tuple[str, Callable[[], object]]] = [
        ("find_plan by name", lambda: e.find_plan(version, plan.name)),
        ("find_phase by name", lambda: e.find_phase(version, phase_names[7 % len(phase_names)])),
        ("find_plan_by_product", lambda: e.find_plan_by_product(version, plan.product, period)),
        ("version_for_date", lambda: catalog.version_for_date(when)),
        ("plan_for_subscription", lambda: plan_for_subscription(catalog, plan.name, when, when)),
        ("recurring_price", recurring),
        ("next_phase", lambda: e.next_phase(plan, plan.initial_phases[0] if plan.initial_phases else phase)),
        ("plan_change_result", lambda: e.plan_change_result(version, frm, to)),
        ("billing_alignment", lambda: e.billing_alignment(version, frm)),
        ("cancel_policy", lambda: e.cancel_policy(version, PlanSpecifier(plan_name=plan.name))),
        ("available_base_plans", lambda: e.available_base_plans(version)),
    ]
    for name, fn in lookups:
        rate, _ = timed(fn, args.seconds)
        print(f"{name:24s} {rate:>12,.0f} lookups/s")


def _ms(fn: Callable[[], object]) -> str:
    t0 = time.perf_counter()
    fn()
    return f"{(time.perf_counter() - t0) * 1000:.2f}"


if __name__ == "__main__":
    main()
