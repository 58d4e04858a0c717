"""The email settings as Kill Bill's plugin reads them (and Billow's additions), refused with the property named;
the SMTP transport's failures sorted into retry, give up and unknown; DATA's dot-stuffing (property test)."""

from __future__ import annotations

import dataclasses
import socket
import ssl
import subprocess
import threading
from datetime import timedelta
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billow.core.errors import InvalidInput
from billow.email.model import EmailEvent, Template
from billow.email.settings import DEFAULT_EVENTS, PREFIX, SmtpSettings, parse_settings
from billow.email.smtp import PermanentFailure, SmtpTransport, TemporaryFailure, Uncertain, _dot_stuffed
from tests.conftest import free_port
from tests.email.conftest import SmtpServer


def _p(**kw: str) -> dict[str, str]:
    return {PREFIX + k: v for k, v in kw.items()}


def test_kill_bills_keys_and_defaults() -> None:
    s = parse_settings(_p(**{"smtp.host": "mail.example.com", "smtp.defaultSender": "bills@example.com",
                             "smtp.useAuthentication": "yes", "smtp.userName": "u", "smtp.password": "p4ss",
                             "defaultEvents": "INVOICE_CREATION, INVOICE_PAYMENT_FAILED"}))
    assert s.smtp == SmtpSettings(host="mail.example.com", port=25, use_authentication=True, user_name="u",
                                  password="p4ss")
    assert s.events == {EmailEvent.INVOICE_CREATION, EmailEvent.INVOICE_PAYMENT_FAILED}
    assert s.sends and s.attach_invoice and not s.send_html
    assert s.retries == tuple(timedelta(minutes=m) for m in (5, 15, 60, 360, 1440))
    assert "p4ss" not in repr(s.smtp)
    assert parse_settings(_p(**{"smtp.host": "h", "smtp.useSSL": "true"})).smtp.port == 465  # type: ignore[union-attr]


def test_without_default_events_only_overdue_emails_and_without_host_nothing_is_sent() -> None:
    s = parse_settings(_p(**{"smtp.defaultSender": "a@b.c"}))
    assert s.events == DEFAULT_EVENTS == {EmailEvent.OVERDUE_CHANGE}
    assert not s.sends  # no host, no file directory
    assert parse_settings(_p(**{"file.directory": "/tmp/x", "smtp.defaultSender": "a@b.c"})).sends
    assert not parse_settings(_p(**{"smtp.host": "h"})).sends  # no sender


@pytest.mark.parametrize(("values", "named"), [
    ({"smtp.port": "99999"}, "smtp.port"),
    ({"smtp.port": "25a"}, "smtp.port"),
    ({"smtp.useSSL": "maybe"}, "smtp.useSSL"),
    ({"smtp.useSSL": "true", "smtp.useStartTLS": "true"}, "smtp.useStartTLS"),
    ({"smtp.useAuthentication": "true"}, "smtp.userName"),
    ({"defaultEvents": "INVOICE_CREATION,PAYMENT_SUCCESS"}, "defaultEvents"),
    ({"retries": "5m,soon"}, "retries"),
    ({"smtp.defaultSender": "nobody"}, "smtp.defaultSender"),
    ({"smtp.timeout": "0"}, "smtp.timeout"),
])
def test_bad_settings_are_refused_naming_the_property(values: dict[str, str], named: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_settings(_p(**{"smtp.host": "h", **values}))
    assert str(caught.value).startswith(PREFIX + named)


def test_subject_keys_are_kill_bills() -> None:
    assert Template.FAILED_PAYMENT.subject_key == "failedPaymentSubject"
    assert Template.UPCOMING_INVOICE.subject_key == "upcomingInvoiceSubject"
    assert Template.INVOICE_CREATION.subject_key == "invoiceCreationSubject"


def _message() -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "a@example.com", "b@example.com", "hi"
    m.set_content("hello\n.\n..dots\n")
    return m


def test_the_transport_delivers_and_the_server_gets_the_exact_text(smtp_server: SmtpServer) -> None:
    t = SmtpTransport(SmtpSettings("127.0.0.1", smtp_server.port, timeout_s=5))
    t.open(_message(), "a@example.com", ["unit.transport@example.com"])
    t.deliver()
    t.close()
    [got] = smtp_server.inbox.messages["unit.transport@example.com"]
    assert got.get_content().replace("\r\n", "\n") == "hello\n.\n..dots\n"  # dots undone by the server


def test_refusals_before_data_are_temporary_or_permanent_by_code(smtp_server: SmtpServer) -> None:
    with pytest.raises(TemporaryFailure):  # nobody listens
        SmtpTransport(SmtpSettings("127.0.0.1", free_port(), timeout_s=2)).open(_message(), "a@example.com",
                                                                                ["x@example.com"])
    with pytest.raises(PermanentFailure, match="STARTTLS"):  # required, and the server does not offer it
        SmtpTransport(SmtpSettings("127.0.0.1", smtp_server.port, use_starttls=True, timeout_s=5)).open(
            _message(), "a@example.com", ["x@example.com"])
    smtp_server.inbox.refuse["unit.refused@example.com"] = ["550 5.1.1 no such user"]
    t = SmtpTransport(SmtpSettings("127.0.0.1", smtp_server.port, timeout_s=5))
    t.open(_message(), "a@example.com", ["unit.refused@example.com"])
    with pytest.raises(PermanentFailure, match="550"):
        t.deliver()


def test_a_connection_that_breaks_while_the_server_takes_the_message_is_uncertain() -> None:
    """A server that reads the whole message and hangs up without its reply: delivered or not, nobody knows."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        f = conn.makefile("rb")
        conn.sendall(b"220 test\r\n")
        while line := f.readline():
            word = line[:4].upper()
            if word in (b"EHLO", b"HELO"):
                conn.sendall(b"250 test\r\n")
            elif word in (b"MAIL", b"RCPT"):
                conn.sendall(b"250 OK\r\n")
            elif word == b"DATA":
                conn.sendall(b"354 go\r\n")
                while f.readline() not in (b".\r\n", b""):
                    pass
                conn.close()
                return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    t = SmtpTransport(SmtpSettings("127.0.0.1", port, timeout_s=5))
    t.open(_message(), "a@example.com", ["x@example.com"])
    with pytest.raises(Uncertain):
        t.deliver()
    thread.join(5)
    listener.close()


def _unstuff(data: bytes) -> bytes:
    assert data.endswith(b"\r\n.\r\n") or data == b".\r\n"
    lines = data[:-3].split(b"\r\n")[:-1] if data != b".\r\n" else []
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines) + (b"\r\n" if lines else b"")


@given(st.lists(st.text(alphabet=".ab \t", max_size=8), max_size=8))
def test_dot_stuffing_round_trips(lines: list[str]) -> None:
    text = "\r\n".join(lines).encode() + b"\r\n"
    stuffed = _dot_stuffed(text)
    body = stuffed[:-3]
    assert all(not line.startswith(b".") or line.startswith(b"..") for line in body.split(b"\r\n"))
    assert _unstuff(stuffed) == text


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command, as a private relay's would be)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return str(cert), str(key)


def test_starttls_and_authentication_against_a_server_that_requires_both(tls_files: tuple[str, str]) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    from tests.email.conftest import Inbox

    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticate(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
        if isinstance(data, LoginPassword) and (bytes(data.login), bytes(data.password)) == (b"billing", b"s3cret"):
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False, message="535 5.7.8 Authentication credentials invalid")

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            auth_required=True, authenticator=authenticate,
                            auth_exclude_mechanism=["LOGIN"])  # PLAIN only: one refusal per try
    controller.start()
    try:
        good = SmtpSettings("127.0.0.1", port, use_starttls=True, use_authentication=True, user_name="billing",
                            password="s3cret", timeout_s=5, ca_file=cert)
        t = SmtpTransport(good)
        t.open(_message(), "a@example.com", ["tls.auth@example.com"])
        t.deliver()
        t.close()
        assert len(inbox.messages["tls.auth@example.com"]) == 1
        with pytest.raises(PermanentFailure, match="535"):  # a wrong password: refused for good
            SmtpTransport(dataclasses.replace(good, password="wrong")).open(_message(), "a@example.com",
                                                                          ["tls.auth@example.com"])
        with pytest.raises(TemporaryFailure, match="CERTIFICATE_VERIFY_FAILED"):  # an unknown CA: never trusted
            SmtpTransport(dataclasses.replace(good, ca_file=None)).open(_message(), "a@example.com",
                                                                       ["tls.auth@example.com"])
        with pytest.raises(PermanentFailure, match="530"):  # no STARTTLS: the server refuses to go on
            SmtpTransport(dataclasses.replace(good, use_starttls=False, use_authentication=False)).open(
                _message(), "a@example.com", ["tls.auth@example.com"])
    finally:
        controller.stop()
    assert len(inbox.messages["tls.auth@example.com"]) == 1
