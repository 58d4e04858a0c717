"""A tenant's email settings: the plugin configuration of `killbill-email-notifications`, uploaded as Kill Bill's
is (`POST /1.0/kb/tenants/uploadPluginConfig/killbill-email-notifications`, Java properties).

Kill Bill's keys (`EmailNotificationConfiguration`), prefix `org.killbill.billing.plugin.email-notifications.`:
`defaultEvents` (comma-separated event types), `smtp.host`, `smtp.port` (25), `smtp.useAuthentication`,
`smtp.userName`, `smtp.password`, `smtp.useSSL` (TLS from the first byte), `smtp.defaultSender` (From),
`smtp.sendHTMLEmail`. Billow's own, same prefix: `smtp.useStartTLS` (upgrade a plain connection; refused by a
server that cannot is a failure, never a silent fall-back), `smtp.timeout` (seconds, 30), `smtp.caFile` (a PEM file of
the CA that signed a private relay's certificate; the system's CAs otherwise), `retries` (the delays
of the retries after a temporary failure, `5m,15m,1h,6h,24h`), `attachInvoice` (the invoice as PDF, true), and
`file.directory` (write each message as an `.eml` file instead of SMTP: for a demo or a development machine).

Without `defaultEvents` a tenant gets the overdue emails only. Kill Bill parses booleans as true/yes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from billow.core.errors import InvalidInput
from billow.email.model import EmailEvent

PREFIX = "org.killbill.billing.plugin.email-notifications."
DEFAULT_EVENTS = frozenset({EmailEvent.OVERDUE_CHANGE})
DEFAULT_RETRIES = "5m,15m,1h,6h,24h"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 25
    use_authentication: bool = False
    user_name: str | None = None
    password: str | None = None
    use_ssl: bool = False
    use_starttls: bool = False
    timeout_s: float = 30.0
    ca_file: str | None = None  # a private CA's certificates (PEM) the server's certificate is checked against

    def __repr__(self) -> str:  # never the password in a log line
        return f"SmtpSettings(host={self.host!r}, port={self.port}, ssl={self.use_ssl}, starttls={self.use_starttls})"


@dataclass(frozen=True, slots=True)
class EmailSettings:
    events: frozenset[EmailEvent]
    sender: str | None
    smtp: SmtpSettings | None
    file_directory: str | None = None
    send_html: bool = False
    attach_invoice: bool = True
    retries: tuple[timedelta, ...] = ()

    @property
    def sends(self) -> bool:
        """Whether this tenant sends anything (an SMTP host, or the file transport, and a sender)."""
        return (self.smtp is not None or self.file_directory is not None) and bool(self.sender)


NO_SETTINGS = EmailSettings(events=DEFAULT_EVENTS, sender=None, smtp=None)  # an overdue change says "none sent"


def _bool(values: Mapping[str, str], key: str, default: bool = False) -> bool:
    text = values.get(PREFIX + key)
    if text is None or not text.strip():
        return default
    word = text.strip().lower()
    if word in ("true", "yes"):
        return True
    if word in ("false", "no"):
        return False
    raise InvalidInput(f"{PREFIX}{key}: '{text}' is not true or false")


def _int(values: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    text = (values.get(PREFIX + key) or "").strip()
    if not text:
        return default
    if not re.fullmatch(r"\d{1,6}", text) or not low <= int(text) <= high:
        raise InvalidInput(f"{PREFIX}{key}: '{text}' is not a whole number between {low} and {high}")
    return int(text)


def parse_delays(text: str, key: str = PREFIX + "retries") -> tuple[timedelta, ...]:
    out = []
    for part in (p.strip() for p in text.split(",")):
        found = re.fullmatch(r"(\d{1,6})\s*([smhd])", part)
        if not found:
            raise InvalidInput(f"{key}: '{part}' is not a delay such as 30s, 5m, 1h or 2d")
        out.append(timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)]))
    if len(out) > 20:
        raise InvalidInput(f"{key}: at most 20 retries")
    return tuple(out)


def parse_settings(values: Mapping[str, str]) -> EmailSettings:
    """The settings, or InvalidInput naming the first bad property."""
    events_text = values.get(PREFIX + "defaultEvents")
    if events_text is None:
        events = DEFAULT_EVENTS
    else:
        names = [n.strip() for n in events_text.split(",") if n.strip()]
        unknown = [n for n in names if n not in EmailEvent.__members__]
        if unknown:
            raise InvalidInput(f"{PREFIX}defaultEvents: unknown event type {unknown[0]} (known: "
                               f"{', '.join(EmailEvent.__members__)})")
        events = frozenset(EmailEvent(n) for n in names)
    host = (values.get(PREFIX + "smtp.host") or "").strip() or None
    use_ssl = _bool(values, "smtp.useSSL")
    use_starttls = _bool(values, "smtp.useStartTLS")
    if use_ssl and use_starttls:
        raise InvalidInput(f"{PREFIX}smtp.useStartTLS: not with smtp.useSSL (the connection is TLS already)")
    use_auth = _bool(values, "smtp.useAuthentication")
    user = (values.get(PREFIX + "smtp.userName") or "").strip() or None
    if use_auth and user is None:
        raise InvalidInput(f"{PREFIX}smtp.userName: needed with smtp.useAuthentication")
    port = _int(values, "smtp.port", 465 if use_ssl else 25, 1, 65535)  # checked even without a host
    timeout = float(_int(values, "smtp.timeout", 30, 1, 600))
    smtp = None
    if host is not None:
        smtp = SmtpSettings(host=host, port=port, use_authentication=use_auth, user_name=user,
                            password=values.get(PREFIX + "smtp.password"), use_ssl=use_ssl,
                            use_starttls=use_starttls, timeout_s=timeout,
                            ca_file=(values.get(PREFIX + "smtp.caFile") or "").strip() or None)
    sender = (values.get(PREFIX + "smtp.defaultSender") or "").strip() or None
    if sender is not None and ("@" not in sender or any(c in sender for c in "\r\n")):
        raise InvalidInput(f"{PREFIX}smtp.defaultSender: '{sender}' is not an email address")
    directory = (values.get(PREFIX + "file.directory") or "").strip() or None
    return EmailSettings(events=events, sender=sender, smtp=smtp, file_directory=directory,
                         send_html=_bool(values, "smtp.sendHTMLEmail"),
                         attach_invoice=_bool(values, "attachInvoice", True),
                         retries=parse_delays(values.get(PREFIX + "retries") or DEFAULT_RETRIES))
