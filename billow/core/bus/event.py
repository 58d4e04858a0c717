"""Bus events: one frozen dataclass per event type, serialised as versioned JSON.

Every event carries the tenant, the account (record id and UUID), the object it
is about and the user token of the call that caused it, so that handlers can
act in the same tenant and audit rows can be tied back to the request.
`event_type` is Kill Bill's `ExtBusEventType` name where Kill Bill has one:
that is the name push notifications carry.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

_REGISTRY: dict[str, type[BusEvent]] = {}
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _default(o: Any) -> Any:
    if isinstance(o, datetime):
        return o.isoformat()
    if isinstance(o, date):
        return o.isoformat()
    if isinstance(o, Decimal):
        return str(o)
    raise TypeError(f"cannot serialise {type(o).__name__}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class BusEvent:
    event_type: ClassVar[str] = ""
    object_type: ClassVar[str] = ""
    version: ClassVar[int] = 1

    tenant_record_id: int
    account_record_id: int | None = None
    account_id: str | None = None
    object_id: str | None = None
    user_token: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.class_name()] = cls

    @classmethod
    def class_name(cls) -> str:
        return f"{cls.__module__}.{cls.__qualname__}"

    def meta_data(self) -> dict[str, Any] | None:
        """What a push notification carries in `metaData` (None when Kill Bill sends none)."""
        return None

    def to_json(self) -> str:
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in dataclasses.fields(self))
        body = {n: getattr(self, n) for n in names}
        if any(isinstance(v, (list, tuple, dict)) or dataclasses.is_dataclass(v) for v in body.values()):
            body = dataclasses.asdict(self)  # nested values: asdict copies them into plain JSON shapes
        body["_v"] = self.version
        return json.dumps(body, default=_default, separators=(",", ":"))

    @staticmethod
    def from_json(class_name: str, payload: str) -> BusEvent:
        cls = _REGISTRY.get(class_name)
        if cls is None:
            raise LookupError(f"unknown event class {class_name}")
        data = json.loads(payload)
        converters = _CONVERTERS.get(cls) or _converters(cls)
        kwargs = {}
        for k, v in data.items():
            if k in converters:
                convert = converters[k]
                kwargs[k] = convert(v) if convert is not None and isinstance(v, str) else v
        return cls(**kwargs)


# per event class, each field's converter from its JSON text (None: the JSON value is the value)
_CONVERTERS: dict[type, dict[str, Callable[[str], Any] | None]] = {}


def _converters(cls: type) -> dict[str, Callable[[str], Any] | None]:
    """How to turn the JSON text of a class's dates, instants and amounts back into their types (worked out once
    per class: the bus decodes every event it runs)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # pragma: no cover - unresolvable annotation: leave values as they are
        hints = {}
    out: dict[str, Callable[[str], Any] | None] = {}
    for f in dataclasses.fields(cls):
        hint = hints.get(f.name)
        kinds = set(typing.get_args(hint)) or {hint}
        out[f.name] = (datetime.fromisoformat if datetime in kinds else date.fromisoformat if date in kinds
                       else Decimal if Decimal in kinds else None)
    _CONVERTERS[cls] = out
    return out


# The JSON encoder of event payloads (instants and dates ISO 8601, amounts as strings).
json_default = _default
