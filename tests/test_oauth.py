"""bot.oauth and the [oauth] section: tokens renewed before expiry and after refusal, secrets kept out
of the config file, the logs and every repr."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, parse_config
from bot.oauth import AccessToken, TokenKeeper, oauthbearer, xoauth2

MINIMAL = {
    "bot": {"address": "bot@contoso.test", "customer_name": "ACME"},
    "imap": {"host": "outlook.office365.com", "username": "bot@contoso.test", "auth": "oauth2"},
    "smtp": {"host": "smtp.office365.com", "port": 587, "security": "starttls", "username": "bot@contoso.test",
             "auth": "oauth2"},
}


class CountingSource:
    def __init__(self, clock: list[float], lifetime: float = 3600.0) -> None:
        self.clock, self.lifetime, self.count = clock, lifetime, 0

    def fetch(self) -> AccessToken:
        self.count += 1
        return AccessToken(f"token-{self.count}", self.clock[0] + self.lifetime, self.lifetime)


def test_a_token_is_kept_until_shortly_before_it_expires() -> None:
    now = [0.0]
    source = CountingSource(now)
    keeper = TokenKeeper(source, clock=lambda: now[0])
    assert keeper.token() == keeper.token() == "token-1"
    now[0] = 3600 - 301  # five minutes before expiry at the latest
    assert keeper.token() == "token-1"
    now[0] = 3600 - 299
    assert keeper.token() == "token-2"


def test_a_short_lived_token_is_renewed_at_four_fifths_of_its_life() -> None:
    now = [0.0]
    keeper = TokenKeeper(CountingSource(now, lifetime=10.0), clock=lambda: now[0])
    keeper.token()
    now[0] = 7.9
    assert keeper.token() == "token-1"
    now[0] = 8.0
    assert keeper.token() == "token-2"


def test_a_refused_token_is_replaced_once_even_when_two_connections_report_it() -> None:
    now = [0.0]
    keeper = TokenKeeper(CountingSource(now), clock=lambda: now[0])
    first = keeper.token()
    assert keeper.refused(first) == "token-2"
    assert keeper.refused(first) == "token-2"  # the second connection gets the new one, no third fetch


def test_the_sasl_strings_are_as_google_microsoft_and_rfc_7628_write_them() -> None:
    assert xoauth2("bot@contoso.test", "abc") == "user=bot@contoso.test\x01auth=Bearer abc\x01\x01"
    assert oauthbearer("a,b=c@x.test", "abc", "imap.x.test", 993) == (
        "n,a=a=2Cb=3Dc@x.test,\x01host=imap.x.test\x01port=993\x01auth=Bearer abc\x01\x01")


def problems(data: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, Path("/etc/supplierbot"))
    return str(caught.value)


def test_oauth2_needs_an_oauth_section_and_secrets_never_come_from_the_toml() -> None:
    assert 'imap.auth = "oauth2" needs an [oauth] section' in problems(MINIMAL)
    no_user = {**MINIMAL, "smtp": {"host": "smtp.office365.com", "auth": "oauth2"}}
    assert 'smtp.username: missing (the mailbox, required with smtp.auth = "oauth2")' in problems(no_user)
    text = problems({**MINIMAL, "oauth": {"provider": "microsoft", "tenant": "contoso", "client_id": "app",
                                          "client_secret": "s3cret"}})
    assert "oauth.client_secret: secrets are not read from the config file" in text
    assert "use client_secret_env" in text and "s3cret" not in text
    text = problems({**MINIMAL, "oauth": {"provider": "generic", "client_id": "app"}})
    assert "oauth.token_url: missing" in text and "oauth.refresh_token_env or oauth.refresh_token_file" in text


def test_each_provider_reads_its_keys_and_no_secret_shows_in_a_repr(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("M365_SECRET", "s3cret-value")
    config = parse_config({**MINIMAL, "oauth": {"provider": "microsoft", "tenant": "contoso", "client_id": "app",
                                                "client_secret_env": "M365_SECRET"}}, tmp_path)
    assert config.imap.login.tokens is config.smtp.login.tokens  # one token for the mailbox, both servers
    assert "s3cret-value" not in repr(config) + repr(config.imap.login) + repr(config.imap.login.tokens.source)
    (tmp_path / "sa.json").write_text("{}")
    config = parse_config({**MINIMAL, "oauth": {"provider": "google_service_account",
                                                "service_account_file": "sa.json"}}, tmp_path)
    assert config.imap.login.tokens.source.subject == "bot@contoso.test"
    text = problems({**MINIMAL, "oauth": {"provider": "google_user", "client_id": "x",
                                          "client_secret_file": "missing", "refresh_token_env": "NOPE"}})
    assert "oauth.client_secret_file: no such file 'missing'" in text
    assert "oauth.refresh_token_env: environment variable 'NOPE' is not set" in text


def test_tls_settings_are_checked_per_server(tmp_path: Path) -> None:
    data = {**MINIMAL, "imap": {"host": "h", "ca_file": "nope.pem"}, "smtp": {"host": "h", "auth": "kerberos"}}
    text = problems(data)
    assert "imap.ca_file: 'nope.pem' does not exist" in text
    assert "smtp.auth: expected password | oauth2, got 'kerberos'" in text
