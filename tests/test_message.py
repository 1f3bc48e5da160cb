"""parsers.message: one .eml fixture per client shape and failure mode."""
from __future__ import annotations

import pytest

from parsers.message import MessageUnreadable, parse_message
from tests.conftest import FIXTURES

EMAILS = FIXTURES / "emails"


def parse(name: str):
    return parse_message((EMAILS / name).read_bytes())


@pytest.mark.parametrize("name, reason", [
    ("out_of_office.eml", "Auto-Submitted: auto-replied"),
    ("bounce_dsn.eml", "null Return-Path (bounce)"),
    ("list_mail.eml", "mailing list (List-Id)"),
    ("precedence_bulk.eml", "Precedence: bulk"),
])
def test_robots_are_recognised_with_the_reason(name: str, reason: str) -> None:
    assert parse(name).automatic == reason


def test_a_person_is_not_a_robot() -> None:
    assert parse("outlook_html_only_cp1252.eml").automatic == ""


def test_outlook_html_only_in_windows_1252_gives_the_new_text_and_thread() -> None:
    message = parse("outlook_html_only_cp1252.eml")
    assert message.new_text == "Approved – schön"
    assert message.sender == "anna@example.test" and message.sender_name == "Anna Buyer"
    assert message.recipients == ("bot+bbbbbbbbbbbbbbbbbbbbbbbbbb@example.test",)
    assert message.thread_ids == ("<req-1@example.test>", "<req-1@example.test>", "<new-1@example.test>")


def test_eight_bit_headers_and_unknown_charsets_are_read_not_fatal() -> None:
    message = parse("eight_bit_unknown_charset.eml")
    assert message.subject.startswith("Gr") and "Preis" in message.new_text


def test_a_message_without_a_sender_is_unreadable() -> None:
    with pytest.raises(MessageUnreadable, match="no sender address"):
        parse("no_from.eml")


def test_attachment_names_are_kept_only_as_given_text() -> None:
    attachment = parse("traversal_filename.eml").attachments[0]
    assert attachment.filename.endswith("passwd.xlsx") and attachment.data.startswith(b"PK")
