"""bot.authstate: a refused login waits minutes, doubling up to an hour; new credentials end the wait."""
from __future__ import annotations

from pathlib import Path

from bot.authstate import AuthBackoff, fingerprint


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_wait_doubles_from_a_minute_and_stops_at_an_hour(tmp_path: Path) -> None:
    clock = Clock()
    backoff = AuthBackoff(tmp_path / "state.json", clock)
    waits = []
    for _ in range(9):
        refusal = backoff.refused("imap", "f1", "535 bad credentials")
        waits.append(refusal.retry_at - clock.now)
        assert backoff.waiting("imap", "f1") == refusal
        clock.now = refusal.retry_at
        assert backoff.waiting("imap", "f1") is None  # due: one more try
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]


def test_other_credentials_are_tried_at_once_and_success_forgets(tmp_path: Path) -> None:
    backoff = AuthBackoff(tmp_path / "state.json")
    backoff.refused("smtp", fingerprint("password", "bot", "old"), "535")
    assert backoff.waiting("smtp", fingerprint("password", "bot", "old")) is not None
    assert backoff.waiting("smtp", fingerprint("password", "bot", "new")) is None
    assert backoff.waiting("imap", fingerprint("password", "bot", "old")) is None
    backoff.accepted("smtp")
    assert backoff.all() == [] and AuthBackoff(tmp_path / "state.json").all() == []


def test_the_state_file_says_nothing_about_the_secret(tmp_path: Path) -> None:
    backoff = AuthBackoff(tmp_path / "state.json")
    backoff.refused("imap", fingerprint("password", "bot", "hunter2"), "535 bad credentials")
    text = (tmp_path / "state.json").read_text()
    assert "hunter2" not in text and len(fingerprint("password", "bot", "hunter2")) == 8
