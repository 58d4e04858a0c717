"""Handing a message to the tenant's SMTP server (Python's `smtplib`), in two steps so that the caller can record
that the message is on its way before the one step that may deliver it:

1. `open`: connect (TLS from the first byte, or STARTTLS), authenticate, MAIL FROM and RCPT TO. Nothing is
   delivered yet: any failure here can be retried without sending twice.
2. `deliver`: DATA. The server accepts (250), refuses for now (4xx: retried), refuses for good (5xx), or the
   connection breaks or times out while it is taking the message: then whether it was delivered cannot be known
   (RFC 5321 §4.1.1.4 warns of exactly this), and the message is not sent again.

The file transport (`file.directory`) writes the message as `<email id>.eml` instead, for a demo or a
development machine.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Protocol

from billow.email.settings import SmtpSettings


class TemporaryFailure(Exception):
    """Nothing was delivered; trying again later may work (4xx, no connection, a timeout before DATA)."""


class PermanentFailure(Exception):
    """Nothing was delivered, and the server said it never will be (5xx)."""


class Uncertain(Exception):
    """The connection broke while the server was taking the message: it may have been delivered."""


class Transport(Protocol):
    def open(self, message: EmailMessage, sender: str, recipients: list[str]) -> None: ...

    def deliver(self) -> None: ...

    def close(self) -> None: ...


def _code_failure(code: int, message: str) -> Exception:
    return TemporaryFailure(message) if 400 <= code < 500 else PermanentFailure(message)


def _text(reply: bytes | str) -> str:
    return (reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply).strip()[:300]


class SmtpTransport:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._session: smtplib.SMTP | None = None
        self._message: bytes = b""

    def open(self, message: EmailMessage, sender: str, recipients: list[str]) -> None:
        s = self.settings
        try:
            if s.use_ssl:
                session: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=self._tls())
            else:
                session = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            self._session = session
            session.ehlo()
            if s.use_starttls:
                if not session.has_extn("starttls"):
                    raise PermanentFailure(f"{s.host} does not offer STARTTLS")
                session.starttls(context=self._tls())
                session.ehlo()
            if s.use_authentication:
                session.login(s.user_name or "", s.password or "")
            code, reply = session.mail(sender)
            if code != 250:
                raise _code_failure(code, f"MAIL FROM refused: {code} {_text(reply)}")
            for address in recipients:
                code, reply = session.rcpt(address)
                if code not in (250, 251):
                    raise _code_failure(code, f"RCPT TO {address} refused: {code} {_text(reply)}")
        except (TemporaryFailure, PermanentFailure):
            self.close()
            raise
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise _code_failure(exc.smtp_code, f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
        except (OSError, smtplib.SMTPException) as exc:  # refused, unreachable, timed out, TLS: nothing sent
            self.close()
            raise TemporaryFailure(f"{s.host}:{s.port}: {exc.__class__.__name__}: {exc}"[:300]) from None
        self._message = message.as_bytes(policy=SMTP_POLICY)

    def _tls(self) -> ssl.SSLContext:
        """Certificates and host names checked, always (the system's CAs, or the tenant's `smtp.caFile`)."""
        return ssl.create_default_context(cafile=self.settings.ca_file)

    def deliver(self) -> None:
        session = self._session
        assert session is not None, "open first"
        try:
            code, reply = session.docmd("DATA")
        except (OSError, smtplib.SMTPException) as exc:  # the DATA command itself: no message sent yet
            self.close()
            raise TemporaryFailure(f"DATA: {exc.__class__.__name__}: {exc}"[:300]) from None
        if code != 354:
            self.close()
            raise _code_failure(code, f"DATA refused: {code} {_text(reply)}")
        try:
            session.send(_dot_stuffed(self._message))
            code, reply = session.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise Uncertain(f"the connection broke while the server took the message: "
                            f"{exc.__class__.__name__}: {exc}"[:300]) from None
        if code != 250:
            self.close()
            raise _code_failure(code, f"message refused: {code} {_text(reply)}")

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            try:
                session.quit()
            except (OSError, smtplib.SMTPException):
                session.close()


def _dot_stuffed(message: bytes) -> bytes:
    """The message as DATA carries it (RFC 5321 §4.5.2: CRLF line ends, leading dots doubled, CRLF.CRLF)."""
    text = message.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    if text.startswith(b"."):
        text = b"." + text
    text = text.replace(b"\r\n.", b"\r\n..")
    if not text.endswith(b"\r\n"):
        text += b"\r\n"
    return text + b".\r\n"


class FileTransport:
    """Each message written as `<name>.eml` in a directory (atomically: a reader never sees half a file)."""

    def __init__(self, directory: str, name: str) -> None:
        self.directory = Path(directory)
        self.name = name
        self._message: bytes = b""

    def open(self, message: EmailMessage, sender: str, recipients: list[str]) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TemporaryFailure(f"file transport: {exc.strerror}") from None
        self._message = message.as_bytes(policy=SMTP_POLICY)

    def deliver(self) -> None:
        try:
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(self._message)
            os.replace(tmp, self.directory / f"{self.name}.eml")
        except OSError as exc:
            raise TemporaryFailure(f"file transport: {exc.strerror}") from None

    def close(self) -> None:
        pass
