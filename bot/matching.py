"""Which order (and which approval request) an inbound reply is about.

Signals, strongest first (PRODUCT.md): the token in the address the mail was
sent to; In-Reply-To/References naming a Message-ID the bot sent; the subject
tag with a sender who is a party to that order; the spreadsheet's hidden
reference with the order's supplier as sender. Only the first two can bind a
reply to an approval request, so a subject tag alone never authorises a decision.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from bot.tokens import token_from_address
from parsers.records import ParsedMessage

REF_TAG_RE = re.compile(r"\[(PO-[A-Za-z0-9-]{1,30})\]")


@dataclass(frozen=True)
class Target:
    order_id: int
    revision_id: int | None  # set when the signal names one approval request
    step: int | None = None  # and the approval step it asked


@dataclass(frozen=True)
class Match:
    order_id: int
    revision_id: int | None
    via: str  # token | thread | subject | sheet
    step: int | None = None  # the approval step a request's token is bound to


class OrderLookup(Protocol):
    def by_token(self, token: str) -> Target | None: ...
    def by_sent_message_id(self, message_id: str) -> Target | None: ...
    def by_ref(self, ref: str) -> int | None: ...
    def is_party(self, order_id: int, address: str) -> bool: ...


def match_order(
    message: ParsedMessage, sheet_ref: str | None, bot_address: str, separator: str, lookup: OrderLookup
) -> Match | None:
    return (
        _by_token(message, bot_address, separator, lookup)
        or _by_thread(message, lookup)
        or _by_ref(_subject_ref(message.subject), message.sender, "subject", lookup)
        or _by_ref(sheet_ref, message.sender, "sheet", lookup)
    )


def order_named_by_headers(message: ParsedMessage, bot_address: str, separator: str,
                           lookup: OrderLookup) -> int | None:
    """The order the headers alone name (reply token, thread, subject tag with a party): what
    a fetcher knows before the body is parsed."""
    match = (_by_token(message, bot_address, separator, lookup) or _by_thread(message, lookup)
             or _by_ref(_subject_ref(message.subject), message.sender, "subject", lookup))
    return match.order_id if match else None


def _by_token(message: ParsedMessage, bot_address: str, separator: str, lookup: OrderLookup) -> Match | None:
    for address in message.recipients:
        token = token_from_address(address, bot_address, separator)
        target = lookup.by_token(token) if token else None
        if target:
            return Match(target.order_id, target.revision_id, "token", target.step)
    return None


def _by_thread(message: ParsedMessage, lookup: OrderLookup) -> Match | None:
    for message_id in message.thread_ids:
        target = lookup.by_sent_message_id(message_id)
        if target:
            return Match(target.order_id, target.revision_id, "thread", target.step)
    return None


def _subject_ref(subject: str) -> str | None:
    found = REF_TAG_RE.search(subject)
    return found.group(1).upper() if found else None


def _by_ref(ref: str | None, sender: str, via: str, lookup: OrderLookup) -> Match | None:
    order_id = lookup.by_ref(ref) if ref else None
    if order_id is None or not lookup.is_party(order_id, sender):
        return None
    return Match(order_id, None, via)
