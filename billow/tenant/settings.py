"""Per-tenant configuration: Kill Bill's `org.killbill.*` properties, a tenant's value winning over the server's.

A tenant uploads its configuration with `uploadPerTenantConfig`: a JSON object of property names to values
(Kill Bill's `PER_TENANT_CONFIG`, read back by its `MultiTenantInvoiceConfig`). The server's values come from
a Java-style properties file (`billow serve --properties FILE`, or `BILLOW_PROPERTIES`); a property set in
neither place has Kill Bill's default (`InvoiceConfig.java`).

`SettingsReader.read(uow)` parses a tenant's document once per change: the parsed settings are cached under
the tenant's values fingerprint, which the reader checks (one small query) in the caller's unit of work, so a
change made on any node is seen by every node at its next read.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path

from billow.core.db import UnitOfWork
from billow.core.errors import InvalidInput
from billow.tenant.parsed import ParsedTenantValues, TenantValues

log = logging.getLogger("billow.tenant")

PER_TENANT_CONFIG = "PER_TENANT_CONFIG"  # Kill Bill's TenantKV.TenantKey

# -- Kill Bill's property names (InvoiceConfig: the ones it reads per tenant) -----------------------------------
PRORATION_FIXED_DAYS = "org.killbill.invoice.proration.fixed.days"
MAX_MONTHS_IN_FUTURE = "org.killbill.invoice.maxNumberOfMonthsInFuture"
DRY_RUN_NOTIFICATION_SCHEDULE = "org.killbill.invoice.dryRunNotificationSchedule"
SANITY_SAFETY_BOUND_ENABLED = "org.killbill.invoice.sanitySafetyBoundEnabled"
MAX_DAILY_ITEMS_SAFETY_BOUND = "org.killbill.invoice.maxDailyNumberOfItemsSafetyBound"
PARK_ACCOUNTS_WITH_UNKNOWN_USAGE = "org.killbill.invoice.parkAccountsWithUnknownUsage"
ITEM_RESULT_BEHAVIOR_MODE = "org.killbill.invoice.item.result.behavior.mode"
USAGE_ZERO_AMOUNT_DISABLED = "org.killbill.invoice.disable.usage.zero.amount"
USAGE_MISSING_LENIENT = "org.killbill.invoice.usage.missing.lenient"
READ_MAX_RAW_USAGE_PREVIOUS_PERIOD = "org.killbill.invoice.readMaxRawUsagePreviousPeriod"
USAGE_TZ_MODE = "org.killbill.invoice.usage.tz.mode"
IN_ARREAR_MODE = "org.killbill.invoice.inArrear.mode"
PARENT_COMMIT_UTC_TIME = "org.killbill.invoice.parent.commit.local.utc.time"


@dataclass(frozen=True, slots=True)
class Property:
    """A typed property: its kind, Kill Bill's default, and what values are allowed."""

    name: str
    kind: str  # "int", "bool", "enum", "timespan", "time"
    default: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None

    def normalise(self, value: str) -> str:
        """The value in canonical form, or InvalidInput naming the property."""
        text = value.strip()
        if self.kind == "bool":
            if text.lower() not in ("true", "false"):
                raise InvalidInput(f"{self.name}: '{value}' is not true or false")
            return text.lower()
        if self.kind == "int":
            if not re.fullmatch(r"[+-]?\d{1,10}", text):
                raise InvalidInput(f"{self.name}: '{value}' is not an integer")
            number = int(text)
            if (self.minimum is not None and number < self.minimum) or \
                    (self.maximum is not None and number > self.maximum):
                bounds = f"between {self.minimum} and {self.maximum}" if self.maximum is not None \
                    else f"at least {self.minimum}"
                raise InvalidInput(f"{self.name}: {number} is not {bounds}")
            return str(number)
        if self.kind == "enum":
            if text.upper() not in self.choices:
                raise InvalidInput(f"{self.name}: '{value}' is not one of {', '.join(self.choices)}")
            return text.upper()
        if self.kind == "timespan":
            parse_timespan(text, self.name)
            return text
        if self.kind == "time":
            try:
                time.fromisoformat(text)
            except ValueError:
                raise InvalidInput(f"{self.name}: '{value}' is not a time of day (HH:MM:SS)") from None
            return text
        return value


PROPERTIES: dict[str, Property] = {p.name: p for p in (
    Property(PRORATION_FIXED_DAYS, "int", "0", minimum=0, maximum=31),
    Property(MAX_MONTHS_IN_FUTURE, "int", "36", minimum=0, maximum=1200),
    Property(DRY_RUN_NOTIFICATION_SCHEDULE, "timespan", "0s"),
    Property(SANITY_SAFETY_BOUND_ENABLED, "bool", "true"),
    Property(MAX_DAILY_ITEMS_SAFETY_BOUND, "int", "15", minimum=-1),
    Property(PARK_ACCOUNTS_WITH_UNKNOWN_USAGE, "bool", "false"),
    Property(ITEM_RESULT_BEHAVIOR_MODE, "enum", "AGGREGATE", choices=("AGGREGATE", "DETAIL")),
    Property(USAGE_ZERO_AMOUNT_DISABLED, "bool", "false"),
    Property(USAGE_MISSING_LENIENT, "bool", "false"),
    Property(READ_MAX_RAW_USAGE_PREVIOUS_PERIOD, "int", "2", minimum=0, maximum=1000),
    Property(USAGE_TZ_MODE, "enum", "FIXED", choices=("FIXED", "VARIABLE")),
    Property(IN_ARREAR_MODE, "enum", "DEFAULT", choices=("DEFAULT", "GREEDY")),
    Property(PARENT_COMMIT_UTC_TIME, "time", "23:59:59.999"),
)}

# config-magic's TimeSpan: a number and a unit
_UNITS = {"ms": 0.001, "millisecond": 0.001, "milliseconds": 0.001, "s": 1, "second": 1, "seconds": 1,
          "m": 60, "min": 60, "minute": 60, "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600,
          "d": 86400, "day": 86400, "days": 86400}
_TIMESPAN = re.compile(r"(\d{1,9})\s?([a-zA-Z]+)")


def parse_timespan(text: str, name: str = "timespan") -> timedelta:
    """config-magic's `TimeSpan` ("0s", "7d", "12h", "90 m")."""
    m = _TIMESPAN.fullmatch(text.strip())
    unit = _UNITS.get(m.group(2).lower()) if m else None
    if m is None or unit is None:
        raise InvalidInput(f"{name}: '{text}' is not a time span (a number and one of ms, s, m, h, d)")
    return timedelta(seconds=int(m.group(1)) * unit)


def check_values(values: Mapping[str, str]) -> dict[str, str]:
    """The values with the known properties normalised; InvalidInput naming the first bad one."""
    out: dict[str, str] = {}
    for name, value in values.items():
        prop = PROPERTIES.get(name)
        out[name] = prop.normalise(value) if prop is not None else value
    return out


def parse_per_tenant_config(raw: str) -> dict[str, str]:
    """A per-tenant configuration document: a JSON object of property names to scalar values (Kill Bill reads it
    into a `Map<String, String>`; numbers and booleans become their text). InvalidInput names what is wrong."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise InvalidInput("body: the per-tenant configuration must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise InvalidInput("body: the per-tenant configuration must be a JSON object")
    values: dict[str, str] = {}
    for name, value in parsed.items():
        if value is None:
            continue  # not set: the server's value or the default
        if isinstance(value, bool):
            values[name] = "true" if value else "false"
        elif isinstance(value, int | float | str):
            values[name] = str(value)
        else:
            raise InvalidInput(f"{name}: the value must be a string, number or boolean")
    return check_values(values)


def read_properties_file(path: str | Path) -> dict[str, str]:
    """A Java-style properties file (`name=value` or `name: value` lines, `#`/`!` comments); values checked."""
    values: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text or text[0] in "#!":
            continue
        m = re.match(r"([^=:\s]+)\s*[=:\s]\s*(.*)", text)
        if m is None:
            values[text] = ""
            continue
        values[m.group(1)] = m.group(2).strip()
    return check_values(values)


def server_properties_from_environment() -> dict[str, str]:
    """The server-wide properties: the file named by `BILLOW_PROPERTIES` (as `billow serve --properties`), if any."""
    path = os.environ.get("BILLOW_PROPERTIES")
    return read_properties_file(path) if path else {}


@dataclass(frozen=True, slots=True)
class TenantSettings:
    """A tenant's effective properties: its own values over the server's over Kill Bill's defaults."""

    server: Mapping[str, str] = field(default_factory=dict)
    tenant: Mapping[str, str] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        if name in self.tenant:
            return self.tenant[name]
        if name in self.server:
            return self.server[name]
        prop = PROPERTIES.get(name)
        return prop.default if prop is not None else None

    def _known(self, name: str) -> str:
        value = self.text(name)
        assert value is not None, name  # every typed getter is for a known property (which has a default)
        return value

    def integer(self, name: str) -> int:
        return int(self._known(name))

    def flag(self, name: str) -> bool:
        return self._known(name) == "true"

    def choice(self, name: str) -> str:
        return self._known(name)

    def span(self, name: str) -> timedelta:
        return parse_timespan(self._known(name), name)

    def time_of_day(self, name: str) -> time:
        return time.fromisoformat(self._known(name))


def lenient(values: Mapping[str, str]) -> dict[str, str]:
    """Stored values as the reader takes them: a bad value (stored before it was checked) counts as unset."""
    out: dict[str, str] = {}
    for name, value in values.items():
        prop = PROPERTIES.get(name)
        try:
            out[name] = prop.normalise(value) if prop is not None else value
        except InvalidInput as e:
            log.warning("ignoring a stored per-tenant property: %s", e.message)
    return out


class SettingsReader:
    """Reads a tenant's settings in the caller's unit of work, parsing its document once per change."""

    def __init__(self, tenants: TenantValues, server: Mapping[str, str] | None = None) -> None:
        self.server: Mapping[str, str] = dict(server or {})
        self._parsed = ParsedTenantValues(tenants, PER_TENANT_CONFIG, self._parse)
        # per tenant record id: reads (the billing run reads once per batch) and parses (once per change)
        self.reads: Counter[int] = Counter()
        self.parses: Counter[int] = Counter()

    def read(self, uow: UnitOfWork) -> TenantSettings:
        self.reads[uow.tenant] += 1
        return self._parsed.get(uow)

    def _parse(self, uow: UnitOfWork, values: list[str]) -> TenantSettings:
        self.parses[uow.tenant] += 1
        tenant_values: dict[str, str] = {}
        if values:
            try:
                tenant_values = lenient(_scalars(json.loads(values[0])))
            except ValueError:
                log.warning("tenant %s: its per-tenant configuration is not JSON; using the server's", uow.tenant)
        return TenantSettings(self.server, tenant_values)

    def forget(self, tenant_record_id: int | None = None) -> None:
        self._parsed.forget(tenant_record_id)


def _scalars(parsed: object) -> dict[str, str]:
    if not isinstance(parsed, dict):
        return {}
    out: dict[str, str] = {}
    for k, v in parsed.items():
        if isinstance(v, bool):
            out[str(k)] = "true" if v else "false"
        elif isinstance(v, int | float | str):
            out[str(k)] = str(v)
    return out
