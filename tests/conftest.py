"""Shared fixtures: one real local mail system per session, a fresh bot world per test."""
from __future__ import annotations

import itertools
import json
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from bot.app import App, build_app, utc_now
from bot.config import load_config
from bot.devmail import PASSWORD, LocalMailServer
from bot.devmail.clients import Party
from bot.orders import NewOrder, create_order
from bot.runner import PollReport, poll_once
from parsers.order_lines import read_order_lines

FIXTURES = Path(__file__).parent / "fixtures"
LINES_CSV = b"""sku,description,quantity,unit,unit price,tax rate
BLT-M8,Hex bolt M8x40,500,pcs,0.12,19
NUT-M8,Hex nut M8,500,pcs,0.04,19
GLV-L,Work gloves L,40,pair,3.90,19
"""
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def mail_server():
    with LocalMailServer() as server:
        yield server


def write_config(folder: Path, bot_address: str, server: LocalMailServer,
                 database_url: str = "sqlite:///bot.db") -> Path:
    path = folder / "supplierbot.toml"
    path.write_text(f"""
[bot]
address = "{bot_address}"
customer_name = "ACME GmbH"
[imap]
host = "127.0.0.1"
port = {server.imap_port}
security = "none"
username = "{bot_address}"
password_env = "TEST_IMAP_PASSWORD"
[smtp]
host = "127.0.0.1"
port = {server.smtp_port}
security = "none"
[storage]
database_url = "{database_url}"
data_dir = "data"
""")
    return path


@dataclass
class World:
    """One bot with its own mailbox and database, and the people it talks to."""

    app: App
    config_path: Path
    bot: str
    supplier: Party
    buyer: Party
    stranger: Party

    def poll(self) -> PollReport:
        return poll_once(self.app)

    def reconfigure(self, clock: Callable[[], datetime] = utc_now, **sections: dict[str, object]) -> None:
        """Add keys to config sections (e.g. imap={"processed_folder": "Done"}) and rebuild the bot."""
        text = self.config_path.read_text()
        for section, values in sections.items():
            keys = "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())
            if f"[{section}]\n" not in text:
                text += f"\n[{section}]\n"
            text = text.replace(f"[{section}]\n", f"[{section}]\n{keys}", 1)
        self.config_path.write_text(text)
        self.app = build_app(load_config(self.config_path), clock)

    def order(self, lines: bytes = LINES_CSV) -> str:
        new = NewOrder(self.supplier.address, (self.buyer.address,), read_order_lines(lines, "lines.csv"))
        return create_order(self.app, new)


def make_world(server: LocalMailServer, folder: Path, database_url: str = "sqlite:///bot.db") -> World:
    n = next(_counter)
    bot = f"bot{n}@example.test"
    config_path = write_config(folder, bot, server, database_url)
    ports = (server.imap_port, server.smtp_port)
    return World(
        app=build_app(load_config(config_path)), config_path=config_path, bot=bot,
        supplier=Party(f"sales{n}@supplier.test", *ports, "Sam Supplier"),
        buyer=Party(f"buyer{n}@example.test", *ports, "Anna Buyer"),
        stranger=Party(f"mallory{n}@elsewhere.test", *ports, "Mallory"),
    )


@pytest.fixture
def world(mail_server: LocalMailServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("TEST_IMAP_PASSWORD", PASSWORD)
    return make_world(mail_server, tmp_path)


def terminate(process: subprocess.Popen, timeout: float) -> None:
    """SIGTERM to a bot process and wait for it; killed (and the test failed) if it hangs."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
