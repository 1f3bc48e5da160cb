"""bot.config: a wrong or missing key is named with what was expected."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config, parse_config

MINIMAL = {
    "bot": {"address": "Bot@Example.test", "customer_name": "ACME"},
    "imap": {"host": "imap.example.test", "username": "bot", "password": "pw"},
    "smtp": {"host": "smtp.example.test"},
}


def problems(data: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, Path("/etc/supplierbot"))
    return str(caught.value)


def test_defaults_fill_what_is_optional() -> None:
    config = parse_config(MINIMAL, Path("/srv/bot"))
    assert config.bot.address == "bot@example.test" and config.imap.port == 993 and config.smtp.port == 465
    assert config.imap.security == "ssl" and config.imap.folder == "INBOX"
    assert config.storage.database_url == "sqlite:////srv/bot/supplierbot.db"
    assert config.storage.data_dir == Path("/srv/bot/data")


def test_every_problem_is_reported_at_once_with_its_key() -> None:
    data = {"bot": {"customer_name": "ACME"}, "imap": {"host": "h", "port": "993", "security": "tls"},
            "smtp": {"host": "h", "prot": 25}, "storage": {"database_url": "supplierbot.db"}, "extra": {}}
    text = problems(data)
    for expected in ("bot.address: missing (expected an email address like bot@example.com)",
                     "imap.port: expected an integer from 1 to 65535, got '993'",
                     "imap.security: expected ssl | starttls | none, got 'tls'",
                     "smtp.prot: unknown key",
                     "storage.database_url: expected a URL like sqlite:///supplierbot.db, got 'supplierbot.db'",
                     "extra: unknown section"):
        assert expected in text


def test_passwords_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    data = {**MINIMAL, "imap": {"host": "h", "password_env": "BOT_IMAP_PW"}}
    assert "imap.password_env: environment variable 'BOT_IMAP_PW' is not set" in problems(data)
    monkeypatch.setenv("BOT_IMAP_PW", "s3cret")
    config = parse_config(data, Path("."))
    assert config.imap.password == "s3cret" and "s3cret" not in repr(config)


def test_command_words_can_be_configured_and_are_checked() -> None:
    config = parse_config({**MINIMAL, "commands": {"approve": ["OK", "Freigabe"]}}, Path("."))
    assert config.keywords["approve"] == ("OK", "Freigabe") and "send" in config.keywords["send"]
    assert "commands.reject: expected a list of words, got 'NO'" in problems({**MINIMAL, "commands": {"reject": "NO"}})


def test_a_missing_or_broken_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[bot\naddress=")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(tmp_path / "bad.toml")


def test_the_example_config_is_complete_and_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPLIERBOT_SMTP_PASSWORD", "x")
    config = load_config(Path(__file__).parent.parent / "config.example.toml")
    assert config.bot.customer_name == "ACME GmbH"
