"""Answers to what cannot be used: they name the order (subject tag too) wherever the headers
say which it is, tell the sender what to do, and show nothing of the bot's insides."""
from __future__ import annotations

import os
import re
from email.message import EmailMessage

import pytest

from bot.devmail.clients import Received
from tests.conftest import World

INTERNALS = re.compile(r"Error\b|Exception|Traceback|\(\w+Error\)|mailparser|MIME")


def broken_parser(raw: bytes) -> None:
    raise AttributeError("'NoneType' object has no attribute 'get_payload'")


def assert_plain_words(answer: Received) -> None:
    assert not INTERNALS.search(answer.text), answer.text
    assert '""' not in answer.text


def test_a_message_too_large_is_answered_under_its_order(world: World) -> None:
    world.reconfigure(limits={"max_message_mb": 1})
    ref = world.order()
    world.poll()
    new_order = world.supplier.wait_for(f"[{ref}] New order")
    world.supplier.reply(new_order, "SEND", attachments=(("scan.pdf", b"%PDF-1.4\n" + os.urandom(1_500_000)),))
    world.poll()
    answer = world.supplier.wait_for("Not processed")
    assert answer.subject == f"[{ref}] Not processed: the message is too large"
    assert f"for order {ref}" in answer.text and "we accept at most 1 MB" in answer.text
    assert "separate, smaller emails" in answer.text
    assert_plain_words(answer)


def test_an_unreadable_reply_is_answered_under_its_order_without_the_exception(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    ref = world.order()
    world.poll()
    new_order = world.supplier.wait_for(f"[{ref}] New order")
    monkeypatch.setattr("parsers.message.mailparser.parse_from_bytes", broken_parser)
    world.supplier.reply(new_order, "Here is the bill")
    report = world.poll()
    assert report.outcomes["refused"] == 1
    answer = world.supplier.wait_for("Not processed")
    assert answer.subject == f"[{ref}] Not processed: the message could not be read"
    assert "it arrived damaged, or not in a standard email format" in answer.text
    assert "send it again from\nyour mail program" in answer.text
    assert_plain_words(answer)
    with world.app.engine.connect() as connection:  # the operator still sees what broke
        (disposition,) = connection.exec_driver_sql("SELECT disposition FROM inbound_message").one()
    assert disposition == "refused: unreadable_message (AttributeError)"


def test_an_unreadable_new_mail_with_the_order_tag_from_a_party_names_the_order(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    ref = world.order()
    world.poll()
    monkeypatch.setattr("parsers.message.mailparser.parse_from_bytes", broken_parser)
    message = EmailMessage()
    message["From"], message["To"] = world.supplier.address, world.bot
    message["Subject"], message["Message-ID"] = f"=?utf-8?q?Rechnung_f=C3=BCr_{ref}?= [{ref}]", f"<tag-{ref}@supplier.test>"
    message.set_content("Anbei")
    world.supplier.send(message)
    world.poll()
    answer = world.supplier.wait_for("Not processed")
    assert answer.subject.startswith(f"[{ref}] Not processed")
    assert f'"Rechnung für {ref} [{ref}]"' in answer.text  # the subject decoded, as the sender wrote it
    assert_plain_words(answer)


def test_an_empty_subject_is_not_quoted_as_empty(world: World) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = world.supplier.address, world.bot, ""
    message["Message-ID"] = f"<empty-subject@{world.supplier.address.split('@')[1]}>"
    message.set_content("Hello?")
    world.supplier.send(message)
    world.poll()
    answer = world.supplier.wait_for("Not processed")
    assert answer.subject == "Not processed: we could not tell which order this message is about"
    assert "Your message (it had no subject) was not processed" in answer.text
    assert_plain_words(answer)
