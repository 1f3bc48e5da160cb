"""Bots configured like real mailboxes (TLS, a private CA, OAuth2) against the dev mail system."""
from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bot.app import build_app
from bot.cli import main
from bot.config import load_config
from bot.devmail import BOT_HOST, LocalMailServer
from bot.devmail.clients import Party
from tests.conftest import World

_counter = itertools.count(1)


def toml_table(name: str, values: dict[str, Any]) -> str:
    return f"[{name}]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())


def bot_server(server: LocalMailServer, protocol: str, security: str, **keys: Any) -> dict[str, Any]:
    """The bot's settings for one of the dev mail system's bot services (TLS ones trust its CA)."""
    ports = {("imap", "ssl"): server.bot_imaps_port, ("imap", "starttls"): server.bot_imap_port,
             ("imap", "none"): server.bot_imap_port, ("smtp", "ssl"): server.bot_smtps_port,
             ("smtp", "starttls"): server.bot_submission_port, ("smtp", "none"): server.bot_submission_port}
    values: dict[str, Any] = {"host": BOT_HOST, "port": ports[protocol, security], "security": security}
    if server.certificate is not None:
        values["ca_file"] = str(server.certificate.ca_file)
    return {key: value for key, value in {**values, **keys}.items() if value is not None}


def mail_world(server: LocalMailServer, folder: Path, domain: str, imap: dict[str, Any], smtp: dict[str, Any],
               oauth: dict[str, Any] | None = None, bot: dict[str, Any] | None = None, address: str = "") -> World:
    n = next(_counter)
    address = address or f"mbot{n}@{domain}"
    sections = {"bot": {"address": address, "customer_name": "ACME GmbH", **(bot or {})},
                "imap": {"username": address, **imap}, "smtp": {"username": address, **smtp},
                "storage": {"database_url": "sqlite:///bot.db", "data_dir": "data"}}
    if oauth is not None:
        sections["oauth"] = oauth
    config_path = folder / "supplierbot.toml"
    config_path.write_text("\n".join(toml_table(name, values) for name, values in sections.items()))
    ports = (server.imap_port, server.smtp_port)
    return World(app=build_app(load_config(config_path)), config_path=config_path, bot=address,
                 supplier=Party(f"msales{n}@supplier.test", *ports, "Sam Supplier"),
                 buyer=Party(f"mbuyer{n}@example.test", *ports, "Anna Buyer"),
                 stranger=Party(f"mmallory{n}@elsewhere.test", *ports, "Mallory"))


def rewrite(world: World, section: str, **values: Any) -> None:
    """Change keys of one section (None removes a key) and rebuild the bot, as an operator fixing the config."""
    text = world.config_path.read_text()
    head, _, rest = text.partition(f"[{section}]\n")
    body, sep, tail = rest.partition("\n[")
    lines = [line for line in body.splitlines() if line.split(" = ")[0] not in values]
    lines += [f"{key} = {json.dumps(value)}" for key, value in values.items() if value is not None]
    world.config_path.write_text(head + f"[{section}]\n" + "\n".join(lines) + "\n" + (sep + tail if sep else ""))
    world.app = build_app(load_config(world.config_path))


def cli(world: World, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(world.config_path), *args])
    return result.exit_code, result.output
