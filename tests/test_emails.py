"""What every email shows: one design from one template, buttons that write the reply, the reader's
language. Rendered without a browser (tests/test_email_layout.py lays them out in Chromium)."""
from __future__ import annotations

import email
import json
import re
from datetime import date
from email.message import EmailMessage
from email.policy import default
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from click.testing import CliRunner

from bot.app import App, build_app
from bot.cli import main
from bot.config import load_config
from bot.notify import bill_view
from bot.orders import NewOrder, create_order
from parsers.bill_sheet import read_bill_sheet
from parsers.reply import CommandKind, parse_command
from storage import queries
from storage.db import session
from storage.models import Revision, RevisionStatus
from tests import emailgallery
from tests.conftest import write_config
from tests.test_notify import BILLED, ORDERED


@pytest.fixture
def config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TEST_IMAP_PASSWORD", "unused")
    unused = SimpleNamespace(imap_port=1, smtp_port=1)  # nothing is sent: mails stay in the outbox
    return write_config(tmp_path, "bot@example.test", unused, f"sqlite:///{tmp_path}/bot.db")


@pytest.fixture
def app(config_path: Path) -> App:
    return build_app(load_config(config_path))


def outbox(app: App, purpose: str) -> list[EmailMessage]:
    with session(app.engine) as s:
        return [email.message_from_bytes(row.raw, policy=default) for row in queries.outbox_rows(s, None, 1000)
                if row.purpose == purpose]


def body(mail: EmailMessage, kind: str) -> str:
    return mail.get_body((kind,)).get_content()


def visible(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split("</style>", 1)[-1])))


def buttons(html: str) -> dict[str, tuple[str, str, str]]:
    """label → (address, subject, body) of every mailto button."""
    found = {}
    for href, label in re.findall(r'<a href="(mailto:[^"]+\?subject=[^"]+)"[^>]*>([^<]+)</a>', html):
        parts = urlsplit(href.replace("&amp;", "&"))
        query = parse_qs(parts.query, keep_blank_values=True)
        found[label] = (unquote(parts.path), query["subject"][0], query["body"][0])
    return found


def order_of(app: App, supplier: str = "sales@supplier.test", **extra: object) -> str:
    return create_order(app, NewOrder(supplier, ("buyer@example.test",), ORDERED, **extra))


def request_for(app: App, ref: str) -> EmailMessage:
    with session(app.engine) as s:
        order = queries.order_by_ref(s, ref)
        revision = Revision(order_id=order.id, number=1, status=RevisionStatus.SUBMITTED, created_at=app.clock())
        s.add(revision)
        s.flush()
        app.notifier.approval_request(s, order, bill_view(1, "EUR", BILLED, ORDERED), revision.id, (), None, ())
        s.commit()
    return outbox(app, "approval_request")[-1]


# --- one design --------------------------------------------------------------------------

class _Struck(HTMLParser):
    """Which text is drawn struck through, from the styles and <s> around it."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []
        self.struck: list[str] = []
        self.plain: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("br", "meta", "img"):
            return
        style = dict(attrs).get("style") or ""
        self.stack.append(tag == "s" or "line-through" in style)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and tag not in ("br", "meta", "img"):
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        (self.struck if any(self.stack) else self.plain).append(data.strip())


def test_a_removed_line_is_struck_through_but_its_label_is_not() -> None:
    html = dict(emailgallery.rendered())["approval_request"].html
    parser = _Struck()
    parser.feed(html)
    assert "GLV-L" in parser.struck and "REMOVED" in parser.plain and "REMOVED" not in parser.struck


def test_a_changed_value_reads_old_arrow_new_in_words() -> None:
    mail = dict(emailgallery.rendered())["approval_request"]
    assert "0.12 → 0.14" in visible(mail.html) and "unit price 0.12 → 0.14" in mail.text


def test_every_email_is_text_and_html_from_one_template_in_one_layout() -> None:
    for name, mail in emailgallery.rendered():
        assert 'name="viewport"' in mail.html and "max-width:640px" in mail.html, name
        first_words = " ".join(mail.text.split("## Please type your reply above this line ##")[-1].split()[:4])
        assert first_words in visible(mail.html), name


def test_long_lines_of_text_are_paragraphs_not_hard_breaks() -> None:
    html = dict(emailgallery.rendered())["cancelled"].html
    assert "Please do not deliver it, and do not send a bill or an invoice for it. If you have already" in html


def test_the_delivery_address_and_date_are_in_the_new_order_and_the_approval_request(app: App) -> None:
    ref = order_of(app, requested_delivery=date(2026, 12, 14), deliver_to="ACME GmbH\nGate 3\n70565 Stuttgart",
                   buyer_ref="KST-4711")
    mail = outbox(app, "new_order")[-1]
    assert "Deliver to:               ACME GmbH, Gate 3, 70565 Stuttgart" in body(mail, "plain")
    assert "KST-4711" in body(mail, "plain") and "2026-12-14" in visible(body(mail, "html"))
    request = request_for(app, ref)
    assert "ACME GmbH, Gate 3, 70565 Stuttgart" in body(request, "plain")
    assert "Requested delivery date:  2026-12-14" in body(request, "plain")


def test_an_order_without_address_or_date_says_nothing_about_them(app: App) -> None:
    order_of(app)
    assert "Deliver to" not in body(outbox(app, "new_order")[-1], "plain")


def test_the_rejection_shows_the_rejected_lines_and_the_reason(app: App) -> None:
    ref = order_of(app)
    with session(app.engine) as s:
        order = queries.order_by_ref(s, ref)
        app.notifier.rejected(s, order, bill_view(1, "EUR", BILLED, ORDERED), BILLED, "bolts stay at 0.12", "b@x")
        s.commit()
    mail = outbox(app, "rejected")[-1]
    text = body(mail, "plain")
    assert "Reason: bolts stay at 0.12" in text and "[CHANGED: unit price 0.12 → 0.14]" in text
    assert "REMOVED GLV-L" in text and "GLV-L" in visible(body(mail, "html"))
    names = [part.get_filename() for part in mail.iter_attachments()]
    assert names == [f"{ref}-bill-rev1.xlsx"]  # not the name of the order's first sheet


# --- buttons -----------------------------------------------------------------------------

def test_the_approval_request_has_approve_and_reject_buttons_that_write_the_reply(app: App) -> None:
    request = request_for(app, order_of(app))
    found = buttons(body(request, "html"))
    address, subject, text = found["Approve"]
    assert address == request["Reply-To"] and subject == f"Re: {request['Subject']}"
    assert parse_command(text).kind is CommandKind.APPROVE
    address, subject, text = found["Reject…"]
    assert address == request["Reply-To"] and text == "REJECT\r\nreason: "
    assert parse_command(text).kind is CommandKind.REJECT and parse_command(text).argument == ""
    filled = parse_command(text + "bolts must stay at 0.12\r\n")
    assert (filled.kind, filled.argument) == (CommandKind.REJECT, "bolts must stay at 0.12")
    assert "APPROVE [note]" in body(request, "plain") and "REJECT <reason>" in body(request, "plain")


def test_the_supplier_gets_a_send_button_with_a_draft_and_none_with_a_new_order(app: App) -> None:
    ref = order_of(app)
    assert buttons(body(outbox(app, "new_order")[-1], "html")) == {}
    with session(app.engine) as s:
        app.notifier.draft_received(s, queries.order_by_ref(s, ref), bill_view(1, "EUR", BILLED, ORDERED), None)
        s.commit()
    draft = outbox(app, "draft_received")[-1]
    (label, (address, _, text)), = buttons(body(draft, "html")).items()
    assert address == draft["Reply-To"] and parse_command(text).kind is CommandKind.SEND
    assert "reply SEND" in body(draft, "plain")


def test_a_mailto_link_encodes_everything_but_the_address() -> None:
    from bot.render import Action

    href = Action("x", "bot+ab12@example.test", "Re: [PO-1] Bill rev 1 — EUR 1,234.50 & more?", "REJECT\nreason: ").href
    assert href.startswith("mailto:bot+ab12@example.test?subject=Re%3A%20%5BPO-1%5D")
    assert "%26%20more%3F" in href and href.endswith("&body=REJECT%0D%0Areason%3A%20")


# --- languages ---------------------------------------------------------------------------

def test_a_german_supplier_gets_german_subjects_bodies_numbers_and_dates(app: App, config_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(config_path), "supplier", "set", "lieferant@example.de",
                                       "--language", "DE"])
    assert result.exit_code == 0, result.output
    ref = order_of(app, "lieferant@example.de", requested_delivery=date(2026, 12, 14))
    mail = outbox(app, "new_order")[-1]
    text = body(mail, "plain")
    assert mail["Subject"] == f"[{ref}] Neue Bestellung von ACME GmbH"
    assert "hat eine neue Bestellung für Sie" in text and "Gewünschter Liefertermin: 14.12.2026" in text
    assert "500 pcs × 0,12 = 60,00 + 19 % MwSt." in text and "Gesamt: 257,04 EUR" in text
    assert "Für Sie offen: 1 neue Bestellung" in text
    assert "Neue Bestellung" in mail["Subject"] and 'lang="de"' in body(mail, "html")
    sheet = next(mail.iter_attachments()).get_content()
    assert read_bill_sheet(sheet).lines == ORDERED and b"Einzelpreis" in zipped_text(sheet)  # the sheet too


def zipped_text(xlsx: bytes) -> bytes:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        return archive.read("xl/sharedStrings.xml")


def test_a_supplier_without_a_language_gets_the_companys(app: App, config_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(main, ["--config", str(config_path), "supplier", "set", "sales@supplier.test", "--language", "de"])
    result = runner.invoke(main, ["--config", str(config_path), "supplier", "set", "sales@supplier.test",
                                  "--language", ""])
    assert '"language": "en (the company\'s)"' in result.output
    ref = order_of(app)
    assert outbox(app, "new_order")[-1]["Subject"] == f"[{ref}] New order from ACME GmbH"


def test_an_unknown_language_is_refused_by_the_cli(config_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(config_path), "supplier", "set", "sales@supplier.test",
                                       "--language", "klingon"])
    assert result.exit_code != 0 and "unknown language 'klingon': use one of en, de" in result.output


def test_a_german_supplier_gets_german_buttons_that_the_reader_accepts() -> None:
    draft = dict(emailgallery.rendered("de"))["draft_received"]
    (label, (_, _, text)), = buttons(draft.html).items()
    assert label == "Rechnung absenden (SENDEN)" and text == "SENDEN\r\n"
    assert parse_command(text).kind is CommandKind.SEND


def test_every_email_has_its_german_text() -> None:
    """A template without a German file would reach a German supplier in English."""
    from importlib import resources

    german = resources.files("templates") / "de"
    missing = [name for name in emailgallery.templates() if name != "_plain_text"
               and not (german / f"{name}.txt").is_file()]
    assert missing == []


def test_a_refusal_to_a_german_supplier_is_german_with_the_details_kept() -> None:
    mails = dict(emailgallery.rendered("de"))
    text = mails["errors/sheet_problems"].text
    assert "wurde nicht verarbeitet (Bestellung PO-2026-0042): die Rechnungstabelle hat Fehler." in text
    # what the reader found, and where, in German too (bot/details.py)
    assert "Blatt 'Bill', Zeile 7, Spalte E: Einzelpreis 'abc' ist keine Zahl" in text
    assert "Revision 2 wurde bereits freigegeben (von anna.buyer@example.test)" in mails["errors/already_decided"].text


def test_the_buyers_emails_follow_the_companys_language() -> None:
    request = dict(emailgallery.rendered("de"))["approval_request"]
    assert "hat Rechnung Revision 2 für die Bestellung PO-2026-0042 eingereicht" in request.text
    assert "FREIGEBEN [Notiz]" in request.text and set(buttons(request.html)) == {"Freigeben", "Ablehnen…"}


def test_the_company_language_is_checked_and_used_for_buyers(config_path: Path) -> None:
    from bot.config import ConfigError

    text = config_path.read_text()
    config_path.write_text(text.replace('customer_name = ', 'language = "fr"\ncustomer_name = ', 1))
    with pytest.raises(ConfigError, match="bot.language: expected en | de"):
        load_config(config_path)
    config_path.write_text(text.replace('customer_name = ', 'language = "de"\ncustomer_name = ', 1))
    app = build_app(load_config(config_path))
    ref = order_of(app, requested_delivery=date(2026, 12, 14))
    request = request_for(app, ref)
    assert request["Subject"] == f"[{ref}] Rechnung Rev. 1 zur Freigabe — 113,05 EUR"
    assert outbox(app, "new_order")[-1]["Subject"] == f"[{ref}] Neue Bestellung von ACME GmbH"  # no own language


def test_a_german_supplier_reads_the_state_of_each_order_in_german() -> None:
    mails = dict(emailgallery.rendered("de"))
    assert "PO-2026-0001  freigegeben: wartet auf Ihre Lieferung und Rechnung" in mails["orders_list"].text
    assert "PO-2026-0002  wartet auf Ihre Rechnung seit" in mails["digest"].text


def test_order_create_takes_a_delivery_address_and_the_buyers_reference(config_path: Path, tmp_path: Path) -> None:
    from bot.demo import SAMPLE_LINES

    (tmp_path / "lines.csv").write_text(SAMPLE_LINES)
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(config_path), "order", "create", "--supplier", "s@supplier.test",
                                  "--buyer", "b@example.test", "--file", str(tmp_path / "lines.csv"),
                                  "--deliver-to", "ACME GmbH\\nGate 3\\n70565 Stuttgart", "--buyer-ref", "KST-4711",
                                  "--json"])
    assert result.exit_code == 0, result.output
    ref = json.loads(result.output)["ref"]
    shown = runner.invoke(main, ["--config", str(config_path), "order", "show", ref]).output
    assert "deliver to: ACME GmbH, Gate 3, 70565 Stuttgart" in shown and "buyer's reference: KST-4711" in shown


def test_a_relayed_comment_cannot_pass_for_the_bill_or_the_buttons() -> None:
    from bot.render import Renderer

    context = {**dict(emailgallery.contexts())["comment"], "text": "\x1ebill\x1e\n\x1eactions\x1e\nhello"}
    mail = Renderer().render("comment", context)  # no bill in this email: a forged mark would fail to render
    assert "hello" in mail.html and "class=\"sb-cards\"" not in mail.html


def test_commands_written_in_two_columns_stay_two_columns_on_a_phone() -> None:
    html = dict(emailgallery.rendered())["delivery_to_confirm"].html
    assert "pallet 1 of 2<br>Still to come:" in html  # a line that introduces a list keeps its break
    assert re.search(r">SHORT &lt;what is missing&gt;</td><td[^>]*>opens a claim; the supplier is told</td>", html)


def test_a_long_bill_stays_under_the_size_gmail_clips_at() -> None:
    from decimal import Decimal

    from bot.render import Renderer
    from parsers.records import Line

    lines = tuple(Line(f"SCR-DIN912-M{n}x20-A2-70", f"Socket head cap screw DIN 912 M{n}x20 stainless A2-70",
                       Decimal(100), "pcs", Decimal("0.085"), Decimal(19)) for n in range(120))
    context = {**dict(emailgallery.contexts())["approval_request"], "bill": bill_view(1, "EUR", lines, lines)}
    html = Renderer().render("approval_request", context).html
    assert len(html.encode()) < 102 * 1024 and "Approve</a>" in html
