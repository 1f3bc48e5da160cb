"""parsers.buyer_order: a buyer's ORDER mail read into a supplier, lines and fields."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot.away import is_out_of_office
from parsers.buyer_order import read_order_request
from parsers.message import parse_message
from parsers.records import Line
from parsers.reply import parse_command
from tests.conftest import FIXTURES

EMAILS = FIXTURES / "emails"

SEND = ("send", "senden")


def read(text: str):
    first, _, _ = text.partition("\n")
    return read_order_request(first.partition(" ")[2], text, SEND, Decimal(19))


def test_body_lines_and_fields_are_read() -> None:
    request = read("ORDER bolts\nHello, please order:\n\n500 pcs BLT-M8 Hex bolt M8x40 at 0.12\n"
                   "- 40 pair Work gloves L @ 3.90 7%\n2 Cable drum 25 m at 49.50 EUR\n\n"
                   "Delivery: 2026-12-15\nRef: KST-4711\nCurrency: eur\nDeliver to: Plant 2, Gate 3, 12345 Town\n")
    assert request.supplier == "bolts" and not request.send and request.problems == ()
    assert request.lines == (
        Line("BLT-M8", "Hex bolt M8x40", Decimal(500), "pcs", Decimal("0.12"), Decimal(19)),
        Line("", "Work gloves L", Decimal(40), "pair", Decimal("3.90"), Decimal(7)),
        Line("", "Cable drum 25 m", Decimal(2), "", Decimal("49.50"), Decimal(19)))
    assert (request.delivery, request.ref, request.currency) == (date(2026, 12, 15), "KST-4711", "EUR")
    assert request.deliver_to == "Plant 2, Gate 3, 12345 Town"


def test_send_on_the_order_line_sends_at_once_and_decimal_commas_are_read() -> None:
    request = read("ORDER sales@supplier.test SEND\n1.000 Stk BLT-M8 Schraube at 0,12\nLieferung: 15.12.2026\n"
                   "2 pcs T-Shirt XL at 9,90\n")
    assert request.send and request.supplier == "sales@supplier.test"
    assert request.lines[0].quantity == 1000 and request.lines[0].unit_price == Decimal("0.12")
    assert request.delivery == date(2026, 12, 15)
    assert (request.lines[1].sku, request.lines[1].description) == ("", "T-Shirt XL")  # not an article number


def test_a_line_that_starts_with_a_number_but_cannot_be_read_is_named() -> None:
    request = read("ORDER bolts\n500 pcs BLT-M8 Hex bolt at 0.12\n200 nuts please, price as usual\n")
    assert len(request.lines) == 1
    assert request.problems == ("line 3 “200 nuts please, price as usual”: not read as an order line "
                                "(expected e.g. “500 pcs BLT-M8 Hex bolt M8x40 at 0.12”)",)


def test_wrong_fields_are_named_and_no_supplier_is_empty() -> None:
    request = read("ORDER\nDelivery: soon\nCurrency: Euro\n")
    assert request.supplier == "" and request.lines == ()
    assert request.problems == ("Delivery: expected a date like 2026-12-15, got “soon”",
                                "Currency: expected a 3-letter code like EUR, got “Euro”")


def test_an_outlook_html_order_with_a_bullet_list_and_a_signature_is_read() -> None:
    message = parse_message((EMAILS / "buyer_order_outlook_html.eml").read_bytes())
    request = read_order_request(parse_command(message.new_text).argument, message.new_text, SEND, Decimal(19))
    assert request.supplier == "bolts" and request.problems == ()
    assert [(line.sku, line.quantity, line.unit, line.unit_price) for line in request.lines] == [
        ("BLT-M8", 500, "Stk", Decimal("0.12")), ("GLV-L", 40, "Paar", Decimal("3.90"))]
    assert request.lines[1].description == "Handschuhe Größe L"
    assert (request.delivery, request.ref) == (date(2026, 12, 15), "BANF-4711")


def test_an_exchange_out_of_office_is_automatic_and_means_away() -> None:
    message = parse_message((EMAILS / "buyer_out_of_office_exchange.eml").read_bytes())
    assert is_out_of_office(message.automatic)


@pytest.mark.parametrize(("first_line", "send"), [
    ("ORDER bolts SEND", True),
    ("ORDER bolts senden", True),
    ("ORDER sales@supplier.test SEND.", True),
    ("ORDER bolts", False),
    ("ORDER bolts (do not send yet)", False),
    ("ORDER bolts nicht senden", False),
    ("ORDER bolts do not send", False),
    ("ORDER bolts please send", False),
    ("ORDER bolts SEND now", False),
    ("ORDER bolts send later", False),
])
def test_only_send_alone_after_the_supplier_sends_at_once(first_line: str, send: bool) -> None:
    """Words around SEND may mean the opposite (`nicht senden`): anything but the bare word is a draft."""
    assert read(f"{first_line}\n500 pcs BLT-M8 Hex bolt at 0.12\n").send is send


@pytest.mark.parametrize(("line", "written"), [
    ("500 pcs BLT-M8 Hex bolt at 1,234", "1,234"),
    ("5 Stk Pumpe zu 1.250", "1.250"),
    ("2 Cable drum at 12.500 EUR", "12.500"),
])
def test_a_price_that_reads_two_ways_is_named_never_guessed(line: str, written: str) -> None:
    """`1,234` is 1234 to one reader and 1.234 to another: a thousandfold error is not guessed."""
    request = read(f"ORDER bolts\n{line}\n3 pcs Washer at 0,12\n")
    assert len(request.lines) == 1 and len(request.problems) == 1
    assert request.problems[0].startswith(f"line 2 “{line}”: the price “{written}” could be read as ")


@pytest.mark.parametrize("line", ["500 pcs BLT-M8 Hex bolt at 0.125", "500 pcs BLT-M8 Hex bolt at 1,234.00",
                                  "500 pcs BLT-M8 Hex bolt at 1.234,50", "500 pcs BLT-M8 Hex bolt at 1234"])
def test_a_price_that_reads_one_way_is_taken(line: str) -> None:
    assert read(f"ORDER bolts\n{line}\n").problems == ()


def test_a_line_in_another_currency_than_the_order_is_refused_by_name() -> None:
    request = read("ORDER bolts\nCurrency: USD\n500 pcs BLT-M8 Hex bolt at 0.12 EUR\n40 pair Gloves at 3.90 USD\n"
                   "2 pcs Drum at 49.50 €\n")
    assert [line.description for line in request.lines] == ["Gloves"]
    assert request.problems == ("line 3 “500 pcs BLT-M8 Hex bolt at 0.12 EUR”: priced in EUR, but the order is in USD",
                                "line 5 “2 pcs Drum at 49.50 €”: priced in EUR, but the order is in USD")


def test_a_currency_on_the_lines_is_the_orders_when_no_currency_line_says_otherwise() -> None:
    request = read("ORDER bolts\n500 pcs BLT-M8 Hex bolt at 0.12 USD\n40 pair Gloves at 3.90 $\n")
    assert request.problems == () and request.currency == "USD" and len(request.lines) == 2
    mixed = read("ORDER bolts\n500 pcs BLT-M8 Hex bolt at 0.12 USD\n40 pair Gloves at 3.90 EUR\n")
    assert mixed.problems == ("line 3 “40 pair Gloves at 3.90 EUR”: priced in EUR, but the order is in USD",)


def test_a_word_after_the_price_that_is_no_currency_is_not_dropped() -> None:
    request = read("ORDER bolts\n500 pcs BLT-M8 Hex bolt at 0.12 net\n")
    assert request.lines == () and request.problems[0].startswith("line 2 “500 pcs BLT-M8 Hex bolt at 0.12 net”: not read")


@pytest.mark.parametrize(("body", "quantity"), [
    ("1.500 kg Grease at 2,50\n", Decimal("1500")),  # the price shows the comma is the decimal mark
    ("1,000 pcs BLT-M8 Hex bolt at 0.12\n", Decimal("1000")),  # and here the point
    ("1.5 kg Grease at 12\n", Decimal("1.5")),
])
def test_a_quantity_is_read_in_the_convention_the_mails_numbers_show(body: str, quantity: Decimal) -> None:
    request = read(f"ORDER bolts\n{body}")
    assert request.problems == () and request.lines[0].quantity == quantity


def test_a_quantity_that_reads_two_ways_with_nothing_to_decide_it_is_named() -> None:
    """`1.500 kg at 12`: 1500 kg to a German reader, 1.5 kg to an English one; nothing else tells."""
    request = read("ORDER bolts\n1.500 kg Grease at 12\n")
    assert request.lines == ()
    assert request.problems[0].startswith("line 2 “1.500 kg Grease at 12”: the quantity “1.500” could be read as ")
