"""The bot's dependencies, built once and passed explicitly (no module-level state)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import openpyxl
from sqlalchemy.engine import Engine

from bot.config import Config, ConfigError
from bot.notify import Notifier
from bot.reading import Readers
from bot.render import Renderer
from bot.tls import warn_if_insecure
from storage.db import SchemaMismatch, make_engine
from storage.files import FileStore


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class App:
    config: Config
    engine: Engine
    files: FileStore
    notifier: Notifier
    clock: Callable[[], datetime]
    readers: Readers  # PDFs and scans are read in a small process pool


def check_xml_defences() -> None:
    """openpyxl parses XML through defusedxml only if it is installed: refuse to start without it."""
    if not openpyxl.DEFUSEDXML:
        raise ConfigError("defusedxml is not installed: openpyxl would parse XML without entity protection "
                          "(pip install defusedxml)")


def build_app(config: Config, clock: Callable[[], datetime] = utc_now) -> App:
    check_xml_defences()
    for name, server in (("imap", config.imap), ("smtp", config.smtp)):
        warn_if_insecure(name, server.tls)
    config.storage.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        engine = make_engine(config.storage.database_url)
    except SchemaMismatch as exc:
        raise ConfigError(str(exc)) from None
    files = FileStore(config.storage.data_dir)
    return App(
        config=config,
        engine=engine,
        files=files,
        notifier=Notifier(config, Renderer(), clock, files),
        clock=clock,
        readers=Readers(config.reading),
    )
