"""bot.away: which automatic mail says a person is away."""
from __future__ import annotations

import pytest

from bot.away import is_out_of_office


@pytest.mark.parametrize("reason, away", [
    ("Auto-Submitted: auto-replied", True), ("Precedence: auto_reply", True), ("X-Autoreply header", True),
    ("X-Autorespond header", True), ("Auto-Submitted: auto-generated", False), ("mailing list (List-Id)", False),
    ("null Return-Path (bounce)", False), ("delivery report (multipart/report)", False), ("sender noreply", False),
])
def test_only_a_reply_on_someones_behalf_means_they_are_away(reason: str, away: bool) -> None:
    assert is_out_of_office(reason) is away
