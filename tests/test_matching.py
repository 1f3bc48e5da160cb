"""bot.matching and bot.tokens: the order of signals, and what only some signals may do."""
from __future__ import annotations

from dataclasses import dataclass, field

from bot.matching import Match, Target, match_order
from bot.tokens import new_token, reply_address, token_from_address
from parsers.records import ParsedMessage

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
