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


def test_buyers_approval_steps_and_tolerance_are_read() -> None:
    config = parse_config({**MINIMAL, "buyers": {"addresses": ["Anna@Example.test"], "domains": ["buyers.test"],
                                                 "suppliers": {"Bolts": "Sales@Supplier.test"}},
                           "approval": {"amount": "gross", "steps": [
                               {"name": "finance", "approvers": ["fin@example.test"], "above": 5000}]},
                           "tolerance": {"suppliers": ["*"], "price_up_percent": 2, "quantity_down_percent": "10",
                                         "per_supplier": {"strict@s.test": {"price_up_percent": 0}}}},
                          Path("/srv/bot"))
    assert config.buyers.is_buyer("anna@example.test") and config.buyers.is_buyer("bob@buyers.test")
    assert not config.buyers.is_buyer("mallory@elsewhere.test")
    assert config.buyers.supplier_address("BOLTS") == "sales@supplier.test"
    assert config.approval.amount == "gross" and config.approval.steps[0].approvers == ("fin@example.test",)
    assert config.approval.steps[0].above == 5000
    assert config.tolerance.for_supplier("any@where.test").quantity_down_percent == 10
    assert config.tolerance.for_supplier("strict@s.test").price_up_percent == 0
    assert config.tolerance.window_hours == 24


def test_without_a_tolerance_section_every_bill_waits_for_a_decision() -> None:
    assert parse_config(MINIMAL, Path("/srv/bot")).tolerance.for_supplier("sales@supplier.test") is None


def test_wrong_buyer_and_approval_keys_are_named() -> None:
    text = problems({**MINIMAL, "buyers": {"addresses": "anna@example.test", "suppliers": {"x": "nobody"}},
                     "approval": {"amount": "tax", "steps": [{"approvers": [], "above": -1, "who": 1}]},
                     "tolerance": {"price_up_percent": "lots", "suppliers": ["nobody"]}})
    for expected in ("buyers.addresses: expected a list of strings, got 'anna@example.test'",
                     "buyers.suppliers.x: expected a supplier's email address, got 'nobody'",
                     "approval.amount: expected net | gross, got 'tax'",
                     "approval.steps[1].who: unknown key",
                     "approval.steps[1].approvers: expected a list of email addresses, got []",
                     "approval.steps[1].above: expected a number of 0 or more, got -1",
                     "tolerance.price_up_percent: expected a number of 0 or more, got 'lots'",
                     "tolerance.suppliers: expected email addresses or \"*\", got 'nobody'"):
        assert expected in text
