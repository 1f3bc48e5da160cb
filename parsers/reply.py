"""Reply text: keep only what the sender just wrote, and read the command in it.

Quoted history, attribution lines, forwarded parts and signatures are removed
before anything is interpreted, so an APPROVE inside a quoted instruction can
never decide anything.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum

from mailparser_reply import EmailReplyParser

from parsers.reply_html import html_to_text

#: The bot writes this line above its own text; everything from it down is history.
REPLY_MARKER = "## Please type your reply above this line ##"
_MARKER_RE = re.compile(r"#+\s*please type your reply above this line\s*#+", re.IGNORECASE)
_ATTRIBUTION_END_RE = re.compile(r"(wrote|schrieb|a écrit|escribió|scrisse|schreef|napisał|skrev)\s*:?\s*$", re.I)
_FORWARD_RE = re.compile(r"^-{2,}\s*(forwarded message|weitergeleitete nachricht|message transféré)", re.I)
_SIGNATURE_RE = re.compile(r"^(-- ?|__+|sent from my \w+.*|von meinem \w+ gesendet.*|get outlook for \w+.*)$", re.I)
_SEPARATOR_TAIL_RE = re.compile(r"(\n|^)\s*[_\-=]{5,}\s*$")  # Outlook's line over the history
_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs"]


class CommandKind(str, Enum):
    SEND = "send"
    APPROVE = "approve"
    REJECT = "reject"
    INVOICE = "invoice"
    PAID = "paid"
    NONE = "none"  # no command: the text is a comment (or empty)


@dataclass(frozen=True)
class Command:
    kind: CommandKind
    argument: str  # the rest of the first line after the keyword (REJECT's reason, APPROVE's note)
    text: str  # the whole new text


DEFAULT_KEYWORDS: dict[CommandKind, tuple[str, ...]] = {
    CommandKind.SEND: ("send", "submit", "senden"),
    CommandKind.APPROVE: ("approve", "approved", "genehmigt", "freigegeben"),
    CommandKind.REJECT: ("reject", "rejected", "abgelehnt", "ablehnen"),
    CommandKind.INVOICE: ("invoice", "rechnung"),
    CommandKind.PAID: ("paid", "bezahlt"),
}


def new_text(plain: str, html: str = "") -> str:
    """The text the sender just wrote, from the plain part (or the HTML one if that is all)."""
    text = plain if plain.strip() else html_to_text(html)
    # Quoted lines go first: a bottom-poster's quote holds our marker too, above their text.
    text = _drop_quoted(text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _cut_at_forward(_cut_at_marker(text))
    reply = EmailReplyParser(languages=_LANGUAGES).read(text).replies
    fresh = reply[0].content if reply and not reply[0].headers else ""
    return _SEPARATOR_TAIL_RE.sub("", _drop_signature(fresh)).strip()


def _cut_at_marker(text: str) -> str:
    match = _MARKER_RE.search(text)
    return text[: match.start()] if match else text


def _drop_quoted(text: str) -> str:
    """Remove '>' lines and the attribution line ("On … wrote:") that introduces them."""
    lines = text.split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if line.lstrip().startswith(">"):
            continue
        if _introduces_quote(lines, index):
            continue
        kept.append(line)
    return "\n".join(kept)


def _introduces_quote(lines: list[str], index: int) -> bool:
    line = lines[index].strip()
    if not line or not (_ATTRIBUTION_END_RE.search(line) or line.endswith(":")):
        return False
    for following in lines[index + 1 :]:
        if following.strip():
            return following.lstrip().startswith(">")
    return False


def _cut_at_forward(text: str) -> str:
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if _FORWARD_RE.match(line.strip()):
            return "\n".join(lines[:index])
    return text


def _drop_signature(text: str) -> str:
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if index > 0 and _SIGNATURE_RE.match(line.strip()):
            return "\n".join(lines[:index])
    return text


def parse_command(
    text: str, keywords: dict[CommandKind, tuple[str, ...]] = DEFAULT_KEYWORDS
) -> Command:
    """A command is the first word of the first non-empty line, any case, punctuation ignored."""
    first_line = next((line.strip() for line in text.split("\n") if line.strip()), "")
    word, _, rest = first_line.partition(" ")
    bare = _strip_punctuation(word).casefold()
    for kind, words in keywords.items():
        if bare and bare in {w.casefold() for w in words}:
            return Command(kind, rest.strip(), text)
    return Command(CommandKind.NONE, "", text)


def _strip_punctuation(word: str) -> str:
    """`Approve.`, `approved!`, `*APPROVE*`, `„Approve"` → the bare word."""
    return "".join(ch for ch in word if not unicodedata.category(ch).startswith(("P", "S")))
