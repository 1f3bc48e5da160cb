"""A throwaway SMTP server on a free loopback port that keeps what it is sent (no delivery)."""
from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.controller import Controller


class Sink:
    """aiosmtpd handler: every envelope's sender, recipients, content and bytes as sent."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


def relayed(client: Callable[[int], Awaitable[Any]]) -> tuple[Any, list[Any]]:
    """Run `client(port)` against a fresh sink: its result, and the envelopes the sink received."""
    sink = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        result = asyncio.run(client(port))
    finally:
        controller.stop()
    return result, sink.envelopes
