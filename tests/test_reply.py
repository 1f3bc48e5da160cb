"""parsers.reply: only the new text counts, and the command is its first word."""
from __future__ import annotations

import pytest

from parsers.reply import CommandKind, new_text, parse_command

QUOTED_REQUEST = "> Reply to this email with one of:\n>   APPROVE [note]\n>   REJECT <reason>\n"


@pytest.mark.parametrize("plain, expected", [
    (f"Approved!\n\nOn Mon, 3 Nov 2026 at 10:00, Bot <bot@x.test> wrote:\n{QUOTED_REQUEST}", "Approved!"),
    (f"\n\nOn Mon, 3 Nov 2026 at 10:00, Bot <bot@x.test> wrote:\n{QUOTED_REQUEST}", ""),
    (f"On Mon, 3 Nov 2026, Bot wrote:\n{QUOTED_REQUEST}\nSEND\n", "SEND"),
    (f"send\n\nSent from my iPhone\n\n> On 3 Nov 2026, at 10:00, Bot <b@x.test> wrote:\n> \n{QUOTED_REQUEST}", "send"),
    ("Genehmigt\n\nAm Mo., 3. Nov. 2026 um 10:00 Uhr schrieb Bot <bot@x.test>:\n> APPROVE\n", "Genehmigt"),
    ("Question about line 2?\n\n-- \nJohn Supplier\nACME Ltd\n", "Question about line 2?"),
    ("Hello\r\n\r\nFrom: Supplierbot <bot@x.test>\r\nSent: Monday, November 3, 2026 10:00 AM\r\nTo: Anna\r\n"
     "Subject: x\r\n\r\nReply APPROVE or REJECT\r\n", "Hello"),
    ("\r\n\r\n________________________________\r\nFrom: Bot <bot@x.test>\r\nSent: Monday\r\n\r\nAPPROVE\r\n", ""),
    ("Fine by me\n\n-----Original Message-----\nFrom: bot@x.test\nAPPROVE\n", "Fine by me"),
    ("FYI\n\n---------- Forwarded message ---------\nFrom: Bot\nAPPROVE\n", "FYI"),
    ("OK\n## Please type your reply above this line ##\nReply APPROVE\n", "OK"),
    ("On Mon, Bot wrote:\n> ## Please type your reply above this line ##\n> Reply APPROVE\n\nApprove\n", "Approve"),
])
def test_new_text_keeps_only_what_the_sender_wrote(plain: str, expected: str) -> None:
    assert new_text(plain) == expected


def test_html_only_replies_drop_blockquotes_and_outlook_history() -> None:
    gmail = ('<div dir="ltr">Looks right</div><div class="gmail_quote"><div>On Mon, Bot wrote:</div>'
             '<blockquote class="gmail_quote">APPROVE or REJECT</blockquote></div>')
    outlook = ('<p>Please wait</p><div id="appendonsend"></div><hr><div id="divRplyFwdMsg">From: Bot</div>'
               '<div>Reply APPROVE</div>')
    assert new_text("", gmail) == "Looks right"
    assert new_text("", outlook) == "Please wait"
    assert new_text("", "<style>p{x:1}</style><p>Approve &amp; thanks</p>") == "Approve & thanks"


def test_quoted_approve_alone_is_no_command() -> None:
    text = new_text(f"On Mon, Bot wrote:\n{QUOTED_REQUEST}")
    assert parse_command(text).kind is CommandKind.NONE


@pytest.mark.parametrize("text, kind, argument", [
    ("approved!", CommandKind.APPROVE, ""),
    ("Approve. Thanks a lot", CommandKind.APPROVE, "Thanks a lot"),
    ("*APPROVE*", CommandKind.APPROVE, ""),
    ("REJECT: prices differ from the quote", CommandKind.REJECT, "prices differ from the quote"),
    ("\n\n  reject   too expensive\nsecond line", CommandKind.REJECT, "too expensive"),
    ("Send", CommandKind.SEND, ""),
    ("I approve of the prices", CommandKind.NONE, ""),
    ("approvedx", CommandKind.NONE, ""),
    ("", CommandKind.NONE, ""),
])
def test_the_command_is_the_first_word_of_the_first_line(text: str, kind: CommandKind, argument: str) -> None:
    command = parse_command(text)
    assert (command.kind, command.argument) == (kind, argument)


def test_keywords_are_configurable_for_other_languages() -> None:
    keywords = {CommandKind.APPROVE: ("akzeptiert",), CommandKind.REJECT: ("abgelehnt",)}
    assert parse_command("Akzeptiert!", keywords).kind is CommandKind.APPROVE
    assert parse_command("approve", keywords).kind is CommandKind.NONE


@pytest.mark.parametrize("html", [
    "<blockquote>Order ready.<br />APPROVE</blockquote>",
    "<blockquote>Order ready.<br/>APPROVE</blockquote>",
    "<blockquote>Order ready.<BR>APPROVE</blockquote>",
    "<blockquote>Order ready.</br>APPROVE</blockquote>",
    "<blockquote>Order ready.<hr /><img src=x /><wbr/>APPROVE</blockquote>",
    "<blockquote>Order ready.</span></div></p>APPROVE</blockquote>",
    "<div><blockquote>Order ready.</div>APPROVE</blockquote>",
    "<blockquote><p>Order ready.<p>APPROVE",
    "<blockquote><blockquote>Order ready.</blockquote>APPROVE</blockquote>",
    "<div class=\"gmail_quote\"><blockquote>Order ready.</div>APPROVE",
    "<blockquote/>APPROVE",
])
def test_quoted_approve_in_html_with_void_elements_is_ignored(html: str) -> None:
    assert parse_command(new_text("", f"<div>Looks right</div>{html}")).kind is CommandKind.NONE
    assert new_text("", html) == ""


@pytest.mark.parametrize("html, expected", [
    ("<div>Approve<br/>thanks</div><blockquote>Order ready.<br />REJECT</blockquote>", "Approve\nthanks"),
    ("</blockquote><p>Approve</p><blockquote>Reply APPROVE</blockquote>", "Approve"),
    ("<p>Reject<br>too dear</br></p><blockquote>APPROVE</blockquote><p>Sent with care</p>", "Reject\ntoo dear"),
])
def test_new_text_in_html_survives_stray_and_void_tags(html: str, expected: str) -> None:
    assert new_text("", html).startswith(expected)
