"""bot.notify: what each email tells its reader, rendered and queued without a mail server."""
from __future__ import annotations

import email
import io
import re
from datetime import date
from decimal import Decimal as D
from email.message import EmailMessage
from email.policy import default
from html import unescape
from pathlib import Path
from types import SimpleNamespace

import pytest
from python_calamine import CalamineWorkbook
from sqlmodel import select

from bot.app import App, build_app
from bot.config import load_config
from bot.notify import bill_view
from bot.orders import NewOrder, create_order
from bot.render import preheader_of
from parsers.bill_sheet import read_bill_sheet
from parsers.records import Line
from parsers.reply import REPLY_MARKER
from storage import queries
from storage.db import session
from storage.models import OrderStatus, OutboxMessage
from tests.conftest import write_config

ORDERED = (Line("BLT-M8", "Hex bolt M8x40", D(500), "pcs", D("0.12"), D(19)),
           Line("GLV-L", "Work gloves L", D(40), "pair", D("3.90"), D(19)))
BILLED = (Line("BLT-M8", "Hex bolt M8x40", D(500), "pcs", D("0.14"), D(19)),
          Line("FRT", "Freight", D(1), "lot", D("25"), D(19)))


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> App:
    monkeypatch.setenv("TEST_IMAP_PASSWORD", "unused")
    unused = SimpleNamespace(imap_port=1, smtp_port=1)  # nothing is sent: mails stay in the outbox
    return build_app(load_config(write_config(tmp_path, "bot@example.test", unused,
                                              f"sqlite:///{tmp_path}/bot.db")))


def order_of(app: App, delivery: date | None = None) -> str:
    return create_order(app, NewOrder("sales@supplier.test", ("buyer@example.test",), ORDERED,
                                      requested_delivery=delivery))


def approved_mail(app: App, ref: str, lines: tuple[Line, ...], number: int = 2) -> EmailMessage:
    with session(app.engine) as s:
        order = queries.order_by_ref(s, ref)
        row = app.notifier.approved(s, order, bill_view(number, "EUR", lines, ORDERED), "go ahead", "buyer@example.test")
        s.commit()
        return email.message_from_bytes(row.raw, policy=default)


def parts(mail: EmailMessage) -> tuple[str, str]:
    return (mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content())


def test_the_approval_lists_what_was_approved_and_attaches_that_revisions_sheet(app: App) -> None:
    mail = approved_mail(app, ref := order_of(app), BILLED)
    text, html = parts(mail)
    assert mail["Subject"] == f"[{ref}] Bill rev 2 approved — please deliver"
    assert "BLT-M8 Hex bolt M8x40: 500 pcs × 0.14 = 70.00" in text and "[CHANGED: unit price 0.12 → 0.14]" in text
    assert "FRT Freight: 1 lot × 25.00 = 25.00" in text and "REMOVED GLV-L" in text
    assert "Total: EUR 113.05" in text and "Freight" in html and "113.05" in html
    assert "deliver as ordered" not in text.lower() and "deliver what this approved bill lists, not the original order" in text
    sheets = [p for p in mail.iter_attachments() if p.get_filename() == f"{ref}-bill-rev2.xlsx"]
    assert len(sheets) == 1 and f"The attached {ref}-bill-rev2.xlsx is the approved bill" in text
    assert read_bill_sheet(sheets[0].get_content()).lines == BILLED


def test_the_approved_sheet_shows_the_approved_total_without_a_spreadsheet_program(app: App) -> None:
    mail = approved_mail(app, order_of(app), BILLED)
    data = next(mail.iter_attachments()).get_content()
    rows = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name("Bill").to_python()
    assert next(row[6] for row in rows if row[0] == "Total") == 113.05


def test_an_approval_as_ordered_gives_the_requested_delivery_date(app: App) -> None:
    text, html = parts(approved_mail(app, order_of(app, date(2026, 12, 14)), ORDERED, 1))
    assert "Please deliver the order as approved." in text and "differs" not in text
    assert "Requested delivery date:  2026-12-14" in text and "2026-12-14" in html


def test_without_a_requested_date_none_is_invented(app: App) -> None:
    text, _ = parts(approved_mail(app, order_of(app), ORDERED, 1))
    assert "delivery date" not in text



# --- what waits for the supplier, at the top of every email to them -------------------------------

def set_status(app: App, ref: str, status: OrderStatus) -> None:
    with session(app.engine) as s:
        queries.order_by_ref(s, ref).status = status
        s.commit()


def rejected_mail(app: App, ref: str) -> tuple[str, str]:
    with session(app.engine) as s:
        order = queries.order_by_ref(s, ref)
        row = app.notifier.rejected(s, order, bill_view(1, "EUR", BILLED, ORDERED), BILLED, "too dear", "buyer@example.test")
        s.commit()
        return parts(email.message_from_bytes(row.raw, policy=default))


def test_a_rejection_names_the_rejected_bill_among_everything_that_waits_for_the_supplier(app: App) -> None:
    rejected, approved, pending, new = (order_of(app) for _ in range(4))
    set_status(app, approved, OrderStatus.APPROVED)
    set_status(app, pending, OrderStatus.AWAITING_APPROVAL)  # waits for the buyer, not for the supplier
    set_status(app, rejected, OrderStatus.REJECTED)
    text, html = rejected_mail(app, rejected)
    expected = (f"Waiting for you: 1 new order to answer with a bill ({new}); 1 rejected bill to correct "
                f"({rejected}); 1 approved order to deliver and invoice ({approved}).")
    assert text.splitlines()[0] == expected and expected in html


def test_many_orders_are_counted_and_the_oldest_named(app: App) -> None:
    refs = [order_of(app) for _ in range(5)]
    text, _ = rejected_mail(app, refs[0])  # still new: the rejection here is only a rendering
    assert text.splitlines()[0] == (f"Waiting for you: 5 new orders to answer with a bill "
                                    f"({refs[0]}, {refs[1]}, {refs[2]} and 2 more).")


def test_a_supplier_with_nothing_to_do_is_told_so(app: App) -> None:
    ref = order_of(app)
    set_status(app, ref, OrderStatus.INVOICED)
    text, html = rejected_mail(app, ref)
    assert text.splitlines()[0] == "Nothing waits for you right now." and "Nothing waits for you right now." in html


# --- the inbox preview --------------------------------------------------------------------------

def preview(html: str, length: int = 200) -> str:
    """What an inbox shows beside the subject: the first characters of the HTML's text, hidden ones
    included (the preheader's filler counts, that is what it is for)."""
    body = re.sub(r"<[^>]+>", " ", html.split("<body", 1)[1].split(">", 1)[1])
    return re.sub(r"[ \t\r\n]+", " ", unescape(body)).strip()[:length]


def new_order_mail(app: App, ref: str) -> EmailMessage:
    with session(app.engine) as s:
        order = queries.order_by_ref(s, ref)
        row = s.exec(select(OutboxMessage).where(OutboxMessage.order_id == order.id)).one()
        return email.message_from_bytes(row.raw, policy=default)


def test_each_mail_is_previewed_by_its_point_and_the_reply_marker_stays_out_of_the_preview(app: App) -> None:
    ref = order_of(app)
    new_text, new_html = parts(new_order_mail(app, ref))
    approved_text, approved_html = parts(approved_mail(app, ref, BILLED))
    rejected_text, rejected_html = rejected_mail(app, ref)  # an email without its own HTML layout
    assert preview(new_html).startswith(f"ACME GmbH has a new order for you: {ref} (EUR).")
    assert preview(approved_html).startswith(f"Good news: your bill revision 2 for {ref} was approved by")
    assert preview(rejected_html).startswith(f"Your bill revision 1 for {ref} was rejected by buyer@example.test.")
    for text, html in ((new_text, new_html), (approved_text, approved_html), (rejected_text, rejected_html)):
        assert REPLY_MARKER not in preview(html) and REPLY_MARKER in html and REPLY_MARKER in text


def test_a_long_point_is_cut_at_a_word() -> None:
    text = f"Waiting for you: nothing.\n{REPLY_MARKER}\n\nHello,\n\n" + "word " * 60
    point = preheader_of(text, REPLY_MARKER)
    assert point.startswith("word word") and point.endswith("word…") and len(point) <= 141
