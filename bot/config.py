"""The TOML configuration, checked completely at start-up: every wrong key is named."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import buyer_config
from bot.buyer_config import ApprovalSettings, BuyerSettings, ToleranceSettings
from bot.login import AUTH_METHODS, Login
from bot.mailconfig import oauth_keeper, server_login
from bot.tls import TlsSettings
from parsers.intake.ocr import OcrLimits
from parsers.intake.pdf import PdfLimits
from bot.languages import DEFAULT_LANGUAGE, LANGUAGES
from parsers.reply import DEFAULT_KEYWORDS, CommandKind

_REQUIRED = object()
SECURITY_CHOICES = ("ssl", "starttls", "none")


class ConfigError(Exception):
    """One or more keys are missing or wrong; the message names each one."""


@dataclass(frozen=True)
class BotSettings:
    address: str
    customer_name: str
    language: str = "en"  # the company's: the buyers' emails, and a supplier's without a language of their own
    reply_separator: str = "+"
    poll_interval_seconds: int = 60
    order_prefix: str = "PO"
    operator_address: str = ""  # bounces and messages that keep failing are reported here
    max_attempts: int = 5  # a failing inbound message is retried this often, then parked
    error_replies_per_sender_per_day: int = 10
    # an email whose sending a crash interrupted is sent again only if the bot's own copy
    # of it has not reached the bot's mailbox within this time
    sent_copy_wait_seconds: int = 60


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    security: str
    username: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    timeout_seconds: int = 30
    connections: int = 1  # SMTP: parallel connections the outbox sender uses
    processed_folder: str = ""  # "" leaves processed mail where it is
    failed_folder: str = ""
    auth: str = "password"  # password | oauth2
    tls: TlsSettings = TlsSettings()
    # how to log in, with what it remembers (a cached token, refusals): shared by every connection
    login: Login = field(default_factory=lambda: Login("imap", "password", ""), repr=False, compare=False)


@dataclass(frozen=True)
class StorageSettings:
    database_url: str
    data_dir: Path


@dataclass(frozen=True)
class AuthSettings:
    authserv_id: str = ""  # the operator's receiving server, as it signs Authentication-Results
    require_dmarc: bool = False  # decisions without an aligned DMARC pass are held for the operator


@dataclass(frozen=True)
class ScheduleSettings:
    timezone: str = "UTC"
    digest_time: time = time(8, 0)  # 0 days/False switch the others off
    remind_unprocessed_after_days: int = 3
    remind_approval_after_days: int = 2
    escalate_approval_after_days: int = 5
    escalation_address: str = ""
    remind_invoice_after_days: int = 14


@dataclass(frozen=True)
class ContractSettings:
    default_terms: str = "net 30"
    suppliers: dict[str, str] = field(default_factory=dict)  # supplier email → terms


@dataclass(frozen=True)
class LimitSettings:
    # as sent (base64 makes 25 MB of files ~34 MB): larger messages are answered from their headers alone
    max_message_mb: int = 50
    max_attachment_mb: int = 25  # decoded, per document: what Gmail and Microsoft 365 let a sender attach
    max_attachments_mb: int = 40  # all documents of one message together
    max_attachments: int = 10


@dataclass(frozen=True)
class ReadingSettings:
    """Reading the supplier's own PDFs and scans: a small process pool, with limits."""

    processes: int = 2
    seconds_per_document: float = 180.0
    start_early: bool = True  # `run` starts the processes at its start, not at the first document
    ocr: OcrLimits = OcrLimits()
    pdf: PdfLimits = PdfLimits()


@dataclass(frozen=True)
class Config:
    bot: BotSettings
    imap: ServerSettings
    smtp: ServerSettings
    storage: StorageSettings
    keywords: dict[CommandKind, tuple[str, ...]]
    auth: AuthSettings = AuthSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    contracts: ContractSettings = ContractSettings()
    limits: LimitSettings = LimitSettings()
    reading: ReadingSettings = ReadingSettings()
    buyers: BuyerSettings = BuyerSettings()
    approval: ApprovalSettings = ApprovalSettings()
    tolerance: ToleranceSettings = ToleranceSettings()


class _Section:
    """Reads one table, remembering every problem instead of stopping at the first."""

    def __init__(self, data: dict[str, Any], name: str, problems: list[str]) -> None:
        self.data, self.name, self.problems = data, name, problems
        self.known: set[str] = set()

    def text(self, key: str, default: Any = _REQUIRED, what: str = "a non-empty string") -> str:
        value = self._get(key, default, what)
        if value is default and default is not _REQUIRED:
            return default
        if not isinstance(value, str) or not value.strip():
            return self._wrong(key, what, value, "")
        return value.strip()

    def integer(self, key: str, default: Any, low: int, high: int) -> int:
        what = f"an integer from {low} to {high}"
        value = self._get(key, default, what)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return self._wrong(key, what, value, low)
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, default, "true or false")
        return value if isinstance(value, bool) else self._wrong(key, "true or false", value, default)

    def choice(self, key: str, default: Any, choices: tuple[str, ...]) -> str:
        what = " | ".join(choices)
        value = self._get(key, default, what)
        return value if value in choices else self._wrong(key, what, value, choices[0])

    def secret(self, key: str) -> str:
        """`key = "…"` or `key_env = "NAME"` (the secret read from the environment)."""
        env_key = f"{key}_env"
        self.known.update({key, env_key})
        if env_key in self.data:
            name = self.data[env_key]
            if name not in os.environ:
                self.problems.append(f"{self.name}.{env_key}: environment variable {name!r} is not set")
            return os.environ.get(str(name), "")
        return self.text(key, "", "a string") if key in self.data else ""

    def secret_ref(self, key: str) -> tuple[str, str]:
        """(environment variable, file) for a secret that must not be written in the TOML itself."""
        env_key, file_key = f"{key}_env", f"{key}_file"
        self.known.update({key, env_key, file_key})
        if key in self.data:
            self.problems.append(f"{self.name}.{key}: secrets are not read from the config file; "
                                 f"use {env_key} = \"VARIABLE\" or {file_key} = \"/path\"")
        env, path = self.text(env_key, "", "a variable name"), self.text(file_key, "", "a file path")
        if env and env not in os.environ:
            self.problems.append(f"{self.name}.{env_key}: environment variable {env!r} is not set")
        return env, path

    def finish(self) -> None:
        for key in sorted(set(self.data) - self.known):
            self.problems.append(f"{self.name}.{key}: unknown key")

    def _get(self, key: str, default: Any, what: str) -> Any:
        self.known.add(key)
        if key in self.data:
            return self.data[key]
        if default is _REQUIRED:
            self.problems.append(f"{self.name}.{key}: missing (expected {what})")
        return default

    def _wrong(self, key: str, what: str, value: Any, fallback: Any) -> Any:
        if key in self.data:
            self.problems.append(f"{self.name}.{key}: expected {what}, got {value!r}")
        return fallback


def load_config(path: Path) -> Config:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return parse_config(data, path.parent)


def parse_config(data: dict[str, Any], base_dir: Path) -> Config:
    problems: list[str] = []
    sections = {name: _Section(_table(data, name, problems), name, problems)
                for name in ("bot", "imap", "smtp", "storage", "commands", "auth", "schedule", "contracts", "limits",
                             "reading", "oauth", "buyers", "approval", "tolerance")}
    for name in sorted(set(data) - set(sections)):
        problems.append(f"{name}: unknown section")
    storage = _storage(sections["storage"], base_dir)
    tokens = oauth_keeper(sections["oauth"], sections["imap"], sections["smtp"], base_dir)
    config = Config(
        bot=_bot(sections["bot"]),
        imap=_server(sections["imap"], 993, storage, tokens, base_dir),
        smtp=_server(sections["smtp"], 465, storage, tokens, base_dir),
        storage=storage,
        keywords=_keywords(sections["commands"]),
        auth=_auth(sections["auth"]),
        schedule=_schedule(sections["schedule"]),
        contracts=_contracts(sections["contracts"]),
        limits=_limits(sections["limits"]),
        reading=_reading(sections["reading"]),
        buyers=buyer_config.buyers(sections["buyers"]),
        approval=buyer_config.approval(sections["approval"]),
        tolerance=buyer_config.tolerance(sections["tolerance"]),
    )
    for section in sections.values():
        section.finish()
    if problems:
        raise ConfigError("configuration problems:\n  " + "\n  ".join(problems))
    return config


def _table(data: dict[str, Any], name: str, problems: list[str]) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        problems.append(f"{name}: expected a table [{name}]")
        return {}
    return value


def _bot(s: _Section) -> BotSettings:
    address = s.text("address", what="an email address like bot@example.com")
    if address and "@" not in address:
        s.problems.append(f"bot.address: expected an email address, got {address!r}")
    return BotSettings(
        address=address.lower(),
        customer_name=s.text("customer_name"),
        language=s.choice("language", DEFAULT_LANGUAGE, tuple(LANGUAGES)),
        reply_separator=s.choice("reply_separator", "+", ("+", "-", "=")),
        poll_interval_seconds=s.integer("poll_interval_seconds", 60, 1, 86400),
        order_prefix=s.text("order_prefix", "PO"),
        operator_address=s.text("operator_address", "", "an email address").lower(),
        max_attempts=s.integer("max_attempts", 5, 1, 100),
        error_replies_per_sender_per_day=s.integer("error_replies_per_sender_per_day", 10, 0, 10000),
        sent_copy_wait_seconds=s.integer("sent_copy_wait_seconds", 60, 1, 86400),
    )


def _server(s: _Section, default_port: int, storage: StorageSettings, tokens: object, base_dir: Path) -> ServerSettings:
    username, password = s.text("username", "", "a string"), s.secret("password")
    auth = s.choice("auth", "password", AUTH_METHODS)
    if auth == "oauth2" and not username:
        s.problems.append(f"{s.name}.username: missing (the mailbox, required with {s.name}.auth = \"oauth2\")")
    tls = _tls(s, base_dir)
    return ServerSettings(
        host=s.text("host", what="a host name or address"),
        port=s.integer("port", default_port, 1, 65535),
        security=s.choice("security", "ssl", SECURITY_CHOICES),
        username=username,
        password=password,
        auth=auth,
        tls=tls,
        login=server_login(s.name, auth, username, password, tls, tokens, storage.data_dir),
        folder=s.text("folder", "INBOX") if s.name == "imap" else "INBOX",
        timeout_seconds=s.integer("timeout_seconds", 30, 1, 3600),
        connections=s.integer("connections", 4, 1, 32) if s.name == "smtp" else 1,
        processed_folder=s.text("processed_folder", "", "a folder name") if s.name == "imap" else "",
        failed_folder=s.text("failed_folder", "", "a folder name") if s.name == "imap" else "",
    )


def _tls(s: _Section, base_dir: Path) -> TlsSettings:
    found: dict[str, Path | None] = {}
    for key, check in (("ca_file", Path.is_file), ("ca_dir", Path.is_dir)):
        value = s.text(key, "", "a path")
        found[key] = base_dir / value if value else None
        if found[key] is not None and not check(found[key]):
            s.problems.append(f"{s.name}.{key}: {value!r} does not exist")
    insecure = s.boolean("insecure_skip_tls_verify", False)
    return TlsSettings(ca_file=found["ca_file"], ca_dir=found["ca_dir"], insecure_skip_verify=insecure)


def _storage(s: _Section, base_dir: Path) -> StorageSettings:
    url = s.text("database_url", "sqlite:///supplierbot.db")
    if "://" not in url:
        s.problems.append(f"storage.database_url: expected a URL like sqlite:///supplierbot.db, got {url!r}")
    return StorageSettings(database_url=_anchor_sqlite(url, base_dir),
                           data_dir=base_dir / s.text("data_dir", "data"))


def _anchor_sqlite(url: str, base_dir: Path) -> str:
    """A relative SQLite path is relative to the config file, like data_dir."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
        return prefix + str((base_dir / url[len(prefix):]).resolve())
    return url


def _auth(s: _Section) -> AuthSettings:
    required = s.boolean("require_dmarc", False)
    server = s.text("authserv_id", "", "the host name your receiving server writes in Authentication-Results")
    if required and not server:
        s.problems.append("auth.authserv_id: missing (required when auth.require_dmarc = true; "
                          "use \"microsoft365\" for Microsoft 365)")
    return AuthSettings(authserv_id=server, require_dmarc=required)


def _schedule(s: _Section) -> ScheduleSettings:
    zone = s.text("timezone", "UTC", "an IANA time zone like Europe/Berlin")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        s.problems.append(f"schedule.timezone: expected an IANA time zone like Europe/Berlin, got {zone!r}")
    at = s.text("digest_time", "08:00", "a time like 08:00")
    try:
        digest_time = time.fromisoformat(at)
    except ValueError:
        s.problems.append(f"schedule.digest_time: expected a time like 08:00, got {at!r}")
        digest_time = time(8, 0)
    return ScheduleSettings(
        timezone=zone, digest_time=digest_time,
        remind_unprocessed_after_days=s.integer("remind_unprocessed_after_days", 3, 0, 365),
        remind_approval_after_days=s.integer("remind_approval_after_days", 2, 0, 365),
        escalate_approval_after_days=s.integer("escalate_approval_after_days", 5, 0, 365),
        escalation_address=s.text("escalation_address", "", "an email address").lower(),
        remind_invoice_after_days=s.integer("remind_invoice_after_days", 14, 0, 365),
    )


def _contracts(s: _Section) -> ContractSettings:
    from bot.terms import TermsInvalid, parse_terms

    default = s.text("default_terms", "net 30", "payment terms like \"net 30\"")
    suppliers = s.data.get("suppliers", {})
    s.known.add("suppliers")
    if not isinstance(suppliers, dict):
        s.problems.append("contracts.suppliers: expected a table of supplier email = \"terms\"")
        suppliers = {}
    for key, text in {"default_terms": default, **{f"suppliers.{k}": v for k, v in suppliers.items()}}.items():
        try:
            parse_terms(str(text))
        except TermsInvalid as exc:
            s.problems.append(f"contracts.{key}: {exc}")
    return ContractSettings(default_terms=default, suppliers={k.lower(): str(v) for k, v in suppliers.items()})


def _limits(s: _Section) -> LimitSettings:
    return LimitSettings(
        max_message_mb=s.integer("max_message_mb", 50, 1, 500),
        max_attachment_mb=s.integer("max_attachment_mb", 25, 1, 500),
        max_attachments_mb=s.integer("max_attachments_mb", 40, 1, 500),
        max_attachments=s.integer("max_attachments", 10, 1, 100),
    )


def _reading(s: _Section) -> ReadingSettings:
    ocr = OcrLimits(max_pixels=s.integer("max_image_megapixels", 40, 1, 200) * 1_000_000,
                    seconds_per_page=float(s.integer("ocr_seconds_per_page", 60, 5, 600)),
                    languages=s.text("ocr_languages", "eng+deu+fra", "Tesseract languages such as eng+deu"))
    return ReadingSettings(processes=s.integer("processes", 2, 1, 32),
                           seconds_per_document=float(s.integer("seconds_per_document", 180, 10, 3600)),
                           start_early=s.boolean("start_early", True), ocr=ocr, pdf=PdfLimits(max_pages=s.integer("max_pdf_pages", 20, 1, 500)))


def _keywords(s: _Section) -> dict[CommandKind, tuple[str, ...]]:
    keywords = dict(DEFAULT_KEYWORDS)
    for kind in CommandKind:
        if kind is CommandKind.NONE:
            continue
        s.known.add(kind.value)
        words = s.data.get(kind.value)
        if words is None:
            continue
        if not isinstance(words, list) or not words or not all(isinstance(w, str) and w.strip() for w in words):
            s.problems.append(f"commands.{kind.value}: expected a list of words, got {words!r}")
            continue
        keywords[kind] = tuple(w.strip() for w in words)
    return keywords
