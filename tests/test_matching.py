"""bot.matching and bot.tokens: the order of signals, and what only some signals may do."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path

import pytest

from bot.app import App, utc_now
from bot.approval import StepRequest
from bot.matching import Match, Target, match_order
from bot.tokens import new_token, reply_address, token_from_address
from bot.notify import OUTBOX_INLINE_BYTES, bill_view
from parsers.records import Attachment, ParsedMessage
from storage import queries
from storage.db import session
from storage.models import Revision, RevisionStatus
from tests.test_notify import ORDERED, order_of
from tests.test_notify import app as notify_app

BOT = "bot@example.test"


@dataclass
class FakeLookup:
    tokens: dict[str, Target] = field(default_factory=dict)
    sent: dict[str, Target] = field(default_factory=dict)
    refs: dict[str, int] = field(default_factory=dict)
    parties: set[tuple[int, str]] = field(default_factory=set)

    def by_token(self, token: str) -> Target | None:
        return self.tokens.get(token)

    def by_sent_message_id(self, message_id: str) -> Target | None:
        return self.sent.get(message_id)

    def by_ref(self, ref: str) -> int | None:
        return self.refs.get(ref)

    def is_party(self, order_id: int, address: str) -> bool:
        return (order_id, address) in self.parties


def message(recipients: tuple[str, ...] = (BOT,), subject: str = "", in_reply_to: tuple[str, ...] = (),
            sender: str = "buyer@example.test") -> ParsedMessage:
    return ParsedMessage("<m@x>", sender, "", recipients, subject, in_reply_to, (), None, "", ())


def test_tokens_round_trip_through_the_reply_address() -> None:
    token = new_token()
    assert token_from_address(reply_address(BOT, token), BOT) == token
    assert token_from_address(reply_address(BOT, token, "-").upper(), BOT, "-") == token
    assert token_from_address(f"bot+{token}@other.test", BOT) is None
    assert token_from_address("bot+short@example.test", BOT) is None
    assert len({new_token() for _ in range(1000)}) == 1000


def test_the_token_wins_over_every_other_signal() -> None:
    token = new_token()
    lookup = FakeLookup(tokens={token: Target(1, 7)}, sent={"<s@x>": Target(2, None)}, refs={"PO-3": 3},
                        parties={(3, "buyer@example.test")})
    found = match_order(message((reply_address(BOT, token),), "[PO-3]", ("<s@x>",)), None, BOT, "+", lookup)
    assert found == Match(1, 7, "token")


def test_thread_headers_find_the_order_when_the_token_is_gone() -> None:
    lookup = FakeLookup(sent={"<s@x>": Target(2, 9)})
    assert match_order(message(in_reply_to=("<s@x>",)), None, BOT, "+", lookup) == Match(2, 9, "thread")


def test_a_forged_token_is_just_not_a_signal() -> None:
    lookup = FakeLookup(refs={"PO-3": 3}, parties={(3, "buyer@example.test")})
    found = match_order(message((reply_address(BOT, new_token()),), "Re: [PO-3] x"), None, BOT, "+", lookup)
    assert found == Match(3, None, "subject")


def test_the_subject_tag_needs_a_party_and_never_binds_a_revision() -> None:
    lookup = FakeLookup(refs={"PO-3": 3}, parties={(3, "buyer@example.test")})
    assert match_order(message(subject="[PO-3] APPROVE"), None, BOT, "+", lookup).revision_id is None
    assert match_order(message(subject="[PO-3]", sender="x@evil.test"), None, BOT, "+", lookup) is None


def test_the_sheet_reference_is_the_last_resort() -> None:
    lookup = FakeLookup(refs={"PO-4": 4}, parties={(4, "s@supplier.test")})
    found = match_order(message(sender="s@supplier.test"), "PO-4", BOT, "+", lookup)
    assert found == Match(4, None, "sheet")


def test_a_reply_by_thread_carries_the_step_its_request_asked() -> None:
    lookup = FakeLookup(sent={"<s@x>": Target(2, 9, 2)})
    assert match_order(message(in_reply_to=("<s@x>",)), None, BOT, "+", lookup) == Match(2, 9, "thread", 2)


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> App:
    return notify_app.__wrapped__(tmp_path, monkeypatch)  # a bot with a database, no mail server


def test_the_sent_request_names_its_step_from_its_own_reply_token(app: App) -> None:
    """An approval request's Message-ID binds a reply to the step that request asked, like its
    token does: a copy of a step-1 answer without the token address cannot decide step 2. Found
    through the token in the request's own Reply-To, also when the email was spilled to a file."""
    ref = order_of(app)
    with session(app.engine) as s:
        order = queries.order_by_ref(s, ref)
        revision = Revision(order_id=order.id, number=1, status=RevisionStatus.SUBMITTED, created_at=utc_now())
        s.add(revision)
        s.flush()
        view = bill_view(1, "EUR", ORDERED, ORDERED)
        first = app.notifier.approval_request(s, order, view, revision.id, (), None, (), StepRequest(1, 2, "buyers", None))
        big = (Attachment("scan.pdf", "application/pdf", b"%PDF" + b"x" * (OUTBOX_INLINE_BYTES + 1)),)
        second = app.notifier.approval_request(s, order, view, revision.id, big, None, (),
                                               StepRequest(2, 2, "finance", D(200)), ("fin@example.test",))
        assert app.files.spilled(second.raw) is not None
        s.commit()
        lookup = queries.SqlOrderLookup(s, app.files)
        assert lookup.by_sent_message_id(first.message_id) == Target(order.id, revision.id, 1)
        assert lookup.by_sent_message_id(second.message_id) == Target(order.id, revision.id, 2)
        found = match_order(message(in_reply_to=(second.message_id,)), None, "bot@example.test", "+", lookup)
        assert found == Match(order.id, revision.id, "thread", 2)
