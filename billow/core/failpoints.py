"""Failpoints: named places where a test makes the process die as a crash would (SIGKILL: no cleanup, no
`finally`), to prove that what was committed before is enough to recover.

`BILLOW_FAILPOINTS` (comma-separated names) is read once when the process starts; it is meant for crash tests
of real `billow serve` processes only. The names in use:

- `payment.after_gateway_success`: the gateway answered PROCESSED and nothing of it is recorded yet.
- `email.before_data`: an email is recorded SENDING and its message not yet handed to the SMTP server.
- `email.after_data`: the SMTP server accepted an email's message and the email is not yet recorded SENT.
"""

from __future__ import annotations

import os
import signal

_ACTIVE = frozenset(n.strip() for n in os.environ.get("BILLOW_FAILPOINTS", "").split(",") if n.strip())


def hit(name: str) -> None:
    """Dies here if the failpoint `name` is switched on for this process."""
    if name in _ACTIVE:
        os.kill(os.getpid(), signal.SIGKILL)
