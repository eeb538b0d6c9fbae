"""Local stand-ins for the SMS gateway (werkzeug on 127.0.0.1, like the payments fakes) and for an SMTP relay
(aiosmtpd): the channels are exercised over real sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from werkzeug.wrappers import Request

from tests.payments.providers.fakes import FakeProvider, serve


@dataclass
class FakeGateway(FakeProvider):
    """Answers 200 ``{"id": "gw-<n>"}``, after the queued ``failures`` (status, body) if any."""

    failures: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    sent: int = 0
    prefix: str = "gw"
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrivals: list[tuple[str, float]] = field(default_factory=list)

    def handle(self, request: Request) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.arrivals.append(
                (str((request.get_json(silent=True) or {}).get("reference")), time.monotonic())
            )
            if self.failures:
                return self.failures.pop(0)
            self.sent += 1
            return 200, {"id": f"{self.prefix}-{self.sent}", "status": "accepted"}

    def times(self, reference: str) -> list[float]:
        return [at for ref, at in self.arrivals if ref == reference]

    def for_reference(self, reference: str) -> list[Any]:
        return [seen for seen in self.requests if seen.json().get("reference") == reference]


@contextmanager
def gateway(**options: Any) -> Iterator[FakeGateway]:
    with serve(FakeGateway(**options)) as running:
        yield running


@dataclass
class Mailbox:
    """aiosmtpd handler: keeps accepted envelopes; refuses ``@refused.sn``; ``busy`` answers 451 to DATA."""

    messages: list[Any] = field(default_factory=list)
    busy: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.endswith("@refused.sn"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.busy:
            self.busy -= 1
            return "451 4.3.0 Try again later"
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(**options: Any) -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox(**options)
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
