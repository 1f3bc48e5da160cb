"""Property-based tests (hypothesis): the reply and sheet parsers never crash and keep their promises."""
from __future__ import annotations

import string
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from parsers.bill_sheet import SheetInvalid, parse_decimal, read_lines_table
from parsers.reply import (
    DECISION_INFINITIVES,
    DEFAULT_KEYWORDS,
    PROSE_AFTER_DECISION,
    CommandKind,
    new_text,
    parse_command,
)

KEYWORDS = [w for words in DEFAULT_KEYWORDS.values() for w in words]
cells = st.one_of(st.none(), st.integers(-10**15, 10**15), st.floats(allow_nan=True, allow_infinity=True),
                  st.text(max_size=20), st.booleans(), st.sampled_from(["1,5", "1.234,50", "€ 3", "-0", "1e400"]))


@given(st.text())
def test_any_text_gives_a_command_or_none_without_crashing(text: str) -> None:
    command = parse_command(text)
    assert command.kind in CommandKind and command.text == text


@given(st.sampled_from(KEYWORDS), st.sampled_from(["", ".", "!", "!!", ":", "*"]), st.text(alphabet=string.ascii_letters + " ", max_size=30),
       st.sampled_from([str.upper, str.lower, str.title]))
def test_a_keyword_first_is_that_command_whatever_case_and_punctuation(word: str, mark: str, rest: str, case) -> None:
    assume(rest.split(" ", 1)[0].casefold() not in PROSE_AFTER_DECISION)  # `Senden Sie …` is German prose
    command = parse_command(f"{case(word)}{mark} {rest}\nmore text")
    if word in DECISION_INFINITIVES and rest.strip() and case is not str.upper and mark in ("", "*"):
        assert command.kind is CommandKind.NONE  # `Freigeben würde …`: an infinitive starts a sentence
        return
    assert command.kind is next(k for k, words in DEFAULT_KEYWORDS.items() if word in words)
    assert command.argument == rest.strip()


@given(st.text(max_size=200))
def test_quoted_text_never_survives(text: str) -> None:
    quoted = "\n".join("> " + line for line in ("APPROVE\n" + text).split("\n"))
    assert parse_command(new_text(f"On Monday, Bot wrote:\n{quoted}\n")).kind is CommandKind.NONE


_TAGS = ["<br>", "<br/>", "<br />", "</br>", "<BR>", "<div>", "</div>", "<p>", "</p>", "</span>", "<span>",
         "<hr>", "<hr/>", "<img src=x />", "<wbr>", "</td>", "<table><tr><td>", "</a>", "<b>", "</b>", "</html>",
         "</body>", "<blockquote>", "<div class=gmail_quote>", "<!-- x -->", "\n", "Order ready."]


@given(st.lists(st.sampled_from(_TAGS), max_size=12), st.lists(st.sampled_from(_TAGS), max_size=12))
def test_no_markup_inside_a_quote_lets_its_text_out(before: list[str], after: list[str]) -> None:
    html = f"<div>Looks right</div><blockquote>{''.join(before)}APPROVE{''.join(after)}</blockquote>"
    assert new_text("", html) == "Looks right"


@settings(max_examples=300)
@given(st.lists(st.lists(cells, max_size=8), max_size=12))
def test_any_table_gives_valid_lines_or_located_problems(rows: list[list[object]]) -> None:
    table = [["SKU", "Description", "Quantity", "Unit", "Unit price", "Tax rate"], *rows]
    try:
        lines = read_lines_table(table, "Bill")
    except SheetInvalid as invalid:
        assert invalid.problems and all(str(p) for p in invalid.problems)
        return
    assert lines and all(l.quantity >= 0 and l.unit_price >= 0 and l.tax_rate >= 0 for l in lines)
    assert all(l.sku or l.description for l in lines)


@given(cells)
def test_a_cell_is_a_finite_decimal_none_or_refused(value: object) -> None:
    try:
        number = parse_decimal(value)
    except ValueError:
        return
    assert number is None or (isinstance(number, Decimal) and number.is_finite())
