"""Workers: claim queued messages from the ledger and apply them; who may fetch a mailbox.

The ledger is the queue. Fetching stores each message and its row, queued; any number of
workers (one process on SQLite; processes on any hosts on PostgreSQL) claim rows with a
lease, apply them, and clear the claim in the same commit. A message with PDFs or scans is
read in the reader pool while its worker goes on with quick messages, and is applied when
its reading is done. One process at a time fetches a mailbox: it holds the fetcher lease,
renews it at each poll, and any process takes over once it runs out.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import col, select

from bot.app import App
from bot.apply import Outcome
from bot.outbox import _holder_is_gone as holder_is_gone
from bot.outbox import _new_owner as new_owner
from bot.pipeline import Prepared, apply_claimed, prepare
from storage import queries
from storage.db import session
from storage.models import InboundMessage

log = logging.getLogger("supplierbot.workers")
#: far longer than a message takes, readings included; only a worker that vanished on another
#: host is waited out (one that died on this host loses its claims at once: its pid is gone)
CLAIM_LEASE = timedelta(minutes=10)
#: claims held while documents are read (which may take longer than a lease: many documents,
#: seconds_per_document raised) are extended this often, so another host never takes them
RENEW_CLAIMS = CLAIM_LEASE / 3
CLAIM_CHUNK = 10
TRANSACTION_SECONDS = 0.1  # messages applied in one commit, one savepoint each (SQLite: the other threads write between)
BIG_BYTES = 256 << 10  # a message this big (scans, PDFs) is claimed after the small ones and parsed a few a round
PARSE_SECONDS = 0.05  # big messages parsed in one round, beyond the first
BIG_EVERY_SECONDS = 0.5  # while quick messages wait: one big message parsed this often


class Worker:
    """Claims queued messages and applies them; the messages whose documents are being read wait here."""

    def __init__(self, app: App, owner: str = "", chunk: int = CLAIM_CHUNK) -> None:
        self.app, self.owner, self.chunk = app, owner or new_owner(), chunk
        self.claimed: list[tuple[int, str, int]] = []  # claimed, not parsed yet: (id, raw digest, size)
        self.reading: list[Prepared] = []
        self._last_big = 0.0  # when a big message was last parsed (monotonic)
        self._renewed: datetime | None = None  # when the held claims were last extended (app.clock)
        #: called after each commit of applied messages: their answers are in the outbox, the sender may start
        self.committed: Callable[[], None] = lambda: None

    def drain(self) -> dict[int, Outcome | None]:
        """Apply everything claimable, waiting for readings: until nothing is left that this worker can take."""
        outcomes: dict[int, Outcome | None] = {}
        while True:
            applied = self.step()
            outcomes.update(applied)
            if not applied and not self.reading and not self.claimed:
                return outcomes
            if not applied and not self.claimed:
                self.wait(1.0)

    def step(self) -> dict[int, Outcome | None]:
        """One round: take what finished reading, claim more, parse the claimed (starting their
        readings) and apply what is ready. Big messages (scans) are parsed a few per round, so a
        quick reply that arrives meanwhile is claimed and applied in the next round, not after them."""
        # the database first: if it is away, the messages whose readings are done stay in hand
        self.renew()
        # what stays claimed between rounds is big messages waiting to be parsed: with enough of
        # them in hand, claim only small ones, so those never wait behind the big ones' parsing
        self.claimed += self._claim(self.chunk, small_only=len(self.claimed) >= self.chunk)
        ready = [p for p in self.reading if all(self.app.readers.done(r) for r in p.readings)]
        self.reading = [p for p in self.reading if p not in ready]
        # big messages are parsed as many as PARSE_SECONDS allows; with quick messages in hand, one
        # every BIG_EVERY_SECONDS (parsing one and starting its reading costs as much as applying
        # several quick ones), so a burst of quick replies passes a pile of scans without starving it
        now = time.monotonic()
        quick_waiting = any(size <= BIG_BYTES for _, _, size in self.claimed)
        allowed = 0 if quick_waiting and now - self._last_big < BIG_EVERY_SECONDS else 1
        deadline, big = now + (0.0 if quick_waiting else PARSE_SECONDS), 0
        for claimed in sorted(self.claimed, key=lambda c: c[2] > BIG_BYTES):
            if claimed[2] > BIG_BYTES and (big >= allowed and time.monotonic() > deadline):
                break
            if claimed[2] > BIG_BYTES:
                big, self._last_big = big + 1, time.monotonic()
            self.claimed.remove(claimed)
            prepared = prepare(self.app, claimed[0], self.app.files.raw(claimed[1]))
            (self.reading if prepared.readings else ready).append(prepared)
        return self._apply(ready) if ready else {}

    def wait(self, timeout: float) -> None:
        """Until a reading finishes, or `timeout`."""
        self.app.readers.wait_any([r for p in self.reading for r in p.readings], timeout)

    def renew(self) -> None:
        """Extend the claims on the messages held here (being read, or waiting to be parsed)
        every RENEW_CLAIMS, to a full lease from now."""
        held = [p.inbound_id for p in self.reading] + [c[0] for c in self.claimed]
        now = self.app.clock()
        if not held:
            self._renewed = None
            return
        if self._renewed is None:
            self._renewed = now  # claimed just now: the claim's own lease is fresh
            return
        if now - self._renewed < RENEW_CLAIMS:
            return
        with session(self.app.engine) as s:
            queries.renew_inbound_claims(s, self.owner, held, now + CLAIM_LEASE)
            s.commit()
        self._renewed = now

    def release(self) -> None:
        """Give back the claims on messages still being read (stopping): another worker reads them again."""
        held = [p.inbound_id for p in self.reading] + [c[0] for c in self.claimed]
        if held:
            with session(self.app.engine) as s:
                queries.release_inbound_claims(s, self.owner, held)
                s.commit()
            self.reading, self.claimed = [], []

    def _claim(self, limit: int, small_only: bool = False) -> list[tuple[int, str, int]]:
        now = self.app.clock()
        with session(self.app.engine) as s:
            dead = [holder for holder in queries.inbound_claimants(s, now) if holder_is_gone(holder)]
            ids = queries.claim_inbound(s, self.owner, now, now + CLAIM_LEASE, limit, dead, BIG_BYTES, small_only)
            rows = {int(i): (str(d), int(n)) for i, d, n in s.exec(
                select(InboundMessage.id, InboundMessage.sha256, InboundMessage.size)
                .where(col(InboundMessage.id).in_(ids))).all()} if ids else {}
            s.commit()
        return [(inbound_id, *rows[inbound_id]) for inbound_id in ids]

    def _apply(self, ready: list[Prepared]) -> dict[int, Outcome | None]:
        """In transactions of at most TRANSACTION_SECONDS: a crash loses only uncommitted work,
        whose rows stay queued and are claimed again."""
        outcomes: dict[int, Outcome | None] = {}
        while len(outcomes) < len(ready):
            with session(self.app.engine) as s:
                deadline = time.monotonic() + TRANSACTION_SECONDS
                for prepared in ready[len(outcomes):]:
                    outcomes[prepared.inbound_id] = apply_claimed(self.app, s, self.owner, prepared)
                    if time.monotonic() > deadline:
                        break
                self.app.files.flush()  # documents on disk before the commit that references them
                s.commit()
            self.committed()
        for inbound_id, outcome in outcomes.items():
            if outcome is not None:
                log.info("message processed", extra={"inbound_id": inbound_id, "status": outcome.status.value,
                                                     "disposition": outcome.disposition})
        return outcomes


def mailbox_key(app: App) -> str:
    imap = app.config.imap
    return f"{imap.username}@{imap.host}:{imap.port}/{imap.folder}"


def fetcher_lease_time(app: App) -> timedelta:
    """Long enough to outlast the gap between two polls of a healthy holder."""
    return timedelta(seconds=2 * app.config.bot.poll_interval_seconds + 30)


def hold_fetcher_lease(app: App, owner: str) -> bool:
    """Take or renew the right to fetch this mailbox; False while a live process holds it."""
    now, mailbox = app.clock(), mailbox_key(app)
    with session(app.engine) as s:
        lease = queries.fetcher_lease(s, mailbox)
        dead = [lease.holder] if lease is not None and holder_is_gone(lease.holder) else []
        held = queries.take_fetcher_lease(s, mailbox, owner, now, now + fetcher_lease_time(app), dead)
        s.commit()
    return held


def holds_fetcher_lease(app: App, owner: str) -> bool:
    with session(app.engine) as s:
        lease = queries.fetcher_lease(s, mailbox_key(app))
        return lease is not None and lease.holder == owner and lease.until > app.clock()


def release_fetcher_lease(app: App, owner: str) -> None:
    with session(app.engine) as s:
        queries.release_fetcher_lease(s, mailbox_key(app), owner)
        s.commit()
