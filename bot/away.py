"""Buyers away: an out-of-office from a buyer is never a decision, but it marks them away, so the
reminders of an approval step go to their delegates until a mail of their own arrives."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from storage import queries
from storage.models import Buyer

#: Auto-Submitted: auto-replied (RFC 3834), Precedence: auto_reply, X-Autoreply and friends
_OUT_OF_OFFICE = ("auto-replied", "auto_reply", "autoreply", "autorespond", "auto-reply")


def is_out_of_office(reason: str) -> bool:
    """A robot's reply on a person's behalf, as opposed to a bounce, a list or a notification."""
    return any(mark in reason.lower() for mark in _OUT_OF_OFFICE)


def note_away(s: Session, sender: str, reason: str, now: datetime) -> str:
    """For the ledger's disposition: what an automatic mail from a buyer told us."""
    buyer = _buyer(s, sender)
    if buyer is None or not is_out_of_office(reason):
        return ""
    if buyer.away_since is None:
        buyer.away_since = now
    return "; buyer away: step reminders go to their delegates"


def note_back(s: Session, sender: str) -> None:
    """Asked of every message: a statement built once that finds only a buyer marked away, as a row."""
    found = queries.rows_of(s, _away_statement(), email=sender.lower())
    if found:
        buyer = s.get(Buyer, found[0].id)
        assert buyer is not None
        buyer.away_since = None


@cache
def _away_statement():
    return select(Buyer.id).where(Buyer.email == bindparam("email"), col(Buyer.away_since).is_not(None))


def reminder_recipients(s: Session, addresses: Sequence[str]) -> tuple[str, ...]:
    """Each approver, or their delegates while they are away (themselves when they have none)."""
    out: list[str] = []
    for address in addresses:
        buyer = _buyer(s, address)
        delegates = queries.delegates_of(s, buyer.id) if buyer is not None and buyer.away_since else []
        out.extend(delegates or [address])
    return tuple(dict.fromkeys(out))


def _buyer(s: Session, address: str) -> Buyer | None:
    return s.exec(select(Buyer).where(Buyer.email == address.lower())).first()
