"""A real SMTP server for tests: ``aiosmtpd`` on a free localhost port, in a thread.

It keeps every message it accepted (Message-ID, envelope recipients, subject, plain-text
body) and can be told to refuse messages (``fail_with``, for the next ``fail_count``) or to
take its time before answering (``delay``, to catch a sender mid-delivery). ``stop`` and
``start`` again on the same port play a server that goes away and comes back.

Use the ``smtp_server`` fixture (``tests/conftest.py``); ``SmtpServer.url`` is the value for
``MATCHER_SMTP_URL``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    """One message the server accepted (answered 250, or would have, had the client waited)."""

    message_id: str
    recipients: tuple[str, ...]
    sender: str
    subject: str
    body: str
    message: EmailMessage


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
        server = self.server
        with server.lock:
            refuse = server.fail_with if server.fail_count != 0 else None
            if refuse is not None and server.fail_count > 0:
                server.fail_count -= 1
        if refuse is not None:
            return refuse
        content = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        message = cast(EmailMessage, message_from_bytes(content, policy=policy.default))
        body_part = message.get_body(preferencelist=("plain",))
        received = Received(
            message_id=str(message["Message-ID"]),
            recipients=tuple(envelope.rcpt_tos),
            sender=envelope.mail_from,
            subject=str(message["Subject"]),
            body=body_part.get_content().replace("\r\n", "\n") if body_part is not None else "",
            message=message,
        )
        with server.lock:
            server.received.append(received)
        # The server has the message before it answers: a client that dies while waiting
        # for the answer has delivered it, without knowing, as with a real server.
        if server.delay:
            await asyncio.sleep(server.delay)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpServer:
    """A real SMTP server on ``127.0.0.1:port`` collecting what it accepts in ``received``.

    ``fail_with``: an SMTP reply such as ``"451 4.3.0 Try again later"`` given instead of
    accepting, to the next ``fail_count`` messages (-1: to every message until changed).
    ``delay``: seconds to wait before answering 250 to each message; the message is recorded
    first, so a client killed while it waits has delivered it without knowing (the case
    at-least-once delivery exists for).
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.fail_with: str | None = None
        self.fail_count = 0
        self.delay = 0.0
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpServer:
        controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, ready_timeout=10)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def refuse(self, reply: str, count: int = -1) -> None:
        with self.lock:
            self.fail_with, self.fail_count = reply, count

    def message_ids(self) -> Counter[str]:
        """How many times each Message-ID arrived."""
        with self.lock:
            return Counter(item.message_id for item in self.received)

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [item for item in self.received if address in item.recipients]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until at least ``count`` messages arrived; the messages (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} message(s) within {timeout} s, got {len(self.received)}")
