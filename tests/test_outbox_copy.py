"""The bot's copy of each email rides along in the same SMTP transaction: it must not hide a refusal."""
from __future__ import annotations

import aiosmtplib
import pytest

from bot.outbox import _check_delivered

REFUSED = aiosmtplib.SMTPResponse(550, "5.1.1 no such user here")


def test_every_real_recipient_refused_is_a_refusal_though_the_copy_went_through() -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refusal:
        _check_delivered(["sales@gone.test"], {"sales@gone.test": REFUSED})
    assert [r.code for r in refusal.value.recipients] == [550]


def test_one_recipient_of_two_refused_is_sent_to_the_other() -> None:
    _check_delivered(["a@x.test", "b@x.test"], {"b@x.test": REFUSED})  # no exception: a@ has it
    _check_delivered(["a@x.test"], {})
