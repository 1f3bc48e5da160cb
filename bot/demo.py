"""`supplierbot demo`: the whole round trip on a local mail server, narrated.

Starts Dovecot and an SMTP relay on loopback, writes a config into the work
folder, creates an order, then plays the supplier and the buyer over real
IMAP and SMTP: sheet → SEND → REJECT with reason → corrected sheet + SEND →
APPROVE; then a second order answered with the supplier's own PDF and SEND →
APPROVE → DELIVERED → RECEIVED → INVOICE. Every email of the exchange is saved
as .eml for you to open.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from sqlmodel import select

from bot.app import build_app
from bot.config import load_config
from bot.devmail import BOT_HOST, OAUTH_DOMAIN, PASSWORD, LocalMailServer
from bot.devmail.clients import LineEdit, Party, Received, edit_sheet
from bot.devmail.documents import invoice_pdf, order_confirmation_pdf
from bot.oauth import write_private
from bot.orders import NewOrder, create_order
from bot.runner import poll_once
from bot.views import order_detail, order_text
from parsers.order_lines import read_order_lines
from storage import queries
from storage.db import session
from storage.models import InboundMessage, OutboxMessage

SAMPLE_LINES = """sku,description,quantity,unit,unit price,tax rate
BLT-M8,Hex bolt M8x40 zinc,500,pcs,0.12,19
NUT-M8,Hex nut M8 zinc,500,pcs,0.04,19
WSH-M8,Washer M8,1000,pcs,0.02,19
GLV-L,Work gloves size L,40,pair,3.90,19
"""

CONFIG = """[bot]
address = "bot@example.test"
customer_name = "ACME GmbH"
poll_interval_seconds = 5

[imap]
host = "127.0.0.1"
port = {imap_port}
security = "none"
username = "bot@example.test"
password = "{password}"
folder = "INBOX"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"

[storage]
database_url = "sqlite:///supplierbot.db"
data_dir = "data"
"""


SECURE_CONFIG = """[bot]
address = "{address}"
customer_name = "ACME GmbH"
poll_interval_seconds = 5

[imap]
host = "{host}"
port = {imaps_port}
security = "ssl"
username = "{address}"
auth = "oauth2"
ca_file = "{ca_file}"

[smtp]
host = "{host}"
port = {submission_port}
security = "starttls"
username = "{address}"
auth = "oauth2"
ca_file = "{ca_file}"

[oauth]
provider = "generic"
token_url = "{token_url}"
client_id = "{client_id}"
client_secret_file = "client-secret"
refresh_token_file = "refresh-token"

[storage]
database_url = "sqlite:///supplierbot.db"
data_dir = "data"
"""


def run_demo(workdir: Path, say: Callable[[str], None], secure: bool = False) -> None:
    if workdir.exists():
        shutil.rmtree(workdir)
    (workdir / "mail").mkdir(parents=True)
    with LocalMailServer(tls=secure, oauth=secure) as server:
        say(f"Local mail server: IMAP 127.0.0.1:{server.imap_port}, SMTP 127.0.0.1:{server.smtp_port}")
        config_path = workdir / "supplierbot.toml"
        if secure:
            config_path.write_text(_secure_config(server, workdir, say))
        else:
            config_path.write_text(CONFIG.format(imap_port=server.imap_port, smtp_port=server.smtp_port,
                                                 password=PASSWORD))
        _round_trip(workdir, config_path, server, say)


def _secure_config(server: LocalMailServer, workdir: Path, say: Callable[[str], None]) -> str:
    """The bot as on an OAuth-only provider: TLS against the private CA, a token from a refresh token."""
    assert server.idp is not None and server.idp_server is not None and server.certificate is not None
    address = f"bot@{OAUTH_DOMAIN}"
    client_id, secret = server.idp.add_client(address)
    write_private(workdir / "client-secret", secret)
    write_private(workdir / "refresh-token", server.idp.add_refresh_token(client_id, address))
    shutil.copy(server.certificate.ca_file, workdir / "devmail-ca.pem")
    say(f"The bot's mailbox {address} takes OAuth2 only: IMAP {BOT_HOST}:{server.bot_imaps_port} (TLS), "
        f"submission {BOT_HOST}:{server.bot_submission_port} (STARTTLS), private CA {workdir}/devmail-ca.pem")
    return SECURE_CONFIG.format(address=address, host=BOT_HOST, imaps_port=server.bot_imaps_port,
                                submission_port=server.bot_submission_port, ca_file=workdir / "devmail-ca.pem",
                                token_url=f"{server.idp_server.http_url}/token", client_id=client_id)


def _round_trip(workdir: Path, config_path: Path, server: LocalMailServer, say: Callable[[str], None]) -> None:
    app = build_app(load_config(config_path))
    supplier = Party("sales@supplier.test", server.imap_port, server.smtp_port, "Sam Supplier")
    buyer = Party("anna.buyer@example.test", server.imap_port, server.smtp_port, "Anna Buyer")
    saved = _Saver(workdir / "mail", say)

    ref = create_order(app, NewOrder(supplier.address, (buyer.address,),
                                     read_order_lines(SAMPLE_LINES.encode(), "lines.csv"), "EUR"))
    say(f"\n1. Operator created {ref}: 4 lines for {supplier.address}, buyer {buyer.address}")
    _poll(app, say)
    new_order = saved.keep(supplier.wait_for(f"[{ref}] New order"), "supplier")

    _, sheet = new_order.attachment("-bill.xlsx") or ("", b"")
    edited = edit_sheet(sheet, [LineEdit("BLT-M8", unit_price=0.14), LineEdit("GLV-L", delete=True),
                                LineEdit("", add=("FRT", "Freight", 1, "lot", 25.0, 19))])
    supplier.reply(new_order, "SEND\nHello, here is our bill. Bolts went up, no gloves, freight added.",
                   "outlook", ((f"{ref}-bill.xlsx", edited),))
    say("2. Supplier replied from 'Outlook' with the edited sheet and SEND")
    _poll(app, say)
    saved.keep(supplier.wait_for("submitted for approval"), "supplier")
    request = saved.keep(buyer.wait_for("Bill rev 1 for approval"), "buyer")

    buyer.reply(request, "REJECT bolts must stay at 0.12 as quoted", "gmail")
    say("3. Buyer replied 'REJECT bolts must stay at 0.12 as quoted' from 'Gmail'")
    _poll(app, say)
    rejected = saved.keep(supplier.wait_for("rejected"), "supplier")

    _, sheet = rejected.attachment(".xlsx") or ("", b"")
    corrected = edit_sheet(sheet, [LineEdit("BLT-M8", unit_price=0.12)])
    supplier.reply(rejected, "send", "apple", ((f"{ref}-bill.xlsx", corrected),))
    say("4. Supplier sent the corrected sheet with 'send' from an iPhone")
    _poll(app, say)
    request = saved.keep(buyer.wait_for("Bill rev 2 for approval"), "buyer")

    buyer.reply(request, "Approved! Thanks.", "html_outlook")
    say("5. Buyer replied 'Approved! Thanks.' from Outlook (HTML)")
    _poll(app, say)
    saved.keep(supplier.wait_for("approved — please deliver"), "supplier")
    second = _their_own_pdf(app, supplier, buyer, saved, say)
    _keep_every_email(app, workdir / "mail", say)
    _finish(app, second, workdir, say, brief=True)
    _finish(app, ref, workdir, say)


#: the supplier's answer to the second order, as their program prints it: washers dearer, no gloves, freight
CONFIRMATION_ROWS = (("10", "BLT-M8", "Sechskantschraube M8x40", "500", "Stk", "0,12", "60,00"),
                     ("20", "NUT-M8", "Sechskantmutter M8", "500", "Stk", "0,04", "20,00"),
                     ("30", "WSH-M8", "Scheibe M8", "1.000", "Stk", "0,025", "25,00"),
                     ("40", "", "Fracht pauschal", "1", "psch", "25,00", "25,00"))
CONFIRMATION_TOTALS = (("Nettobetrag", "130,00"), ("MwSt 19 %", "24,70"), ("Gesamtbetrag EUR", "154,70"))


def _their_own_pdf(app, supplier: Party, buyer: Party, saved: _Saver, say: Callable[[str], None]) -> str:
    """A second order answered, not with our sheet, but with the supplier's own PDF and SEND."""
    ref = create_order(app, NewOrder(supplier.address, (buyer.address,),
                                     read_order_lines(SAMPLE_LINES.encode(), "lines.csv"), "EUR"))
    say(f"\n6. Operator created {ref}, the same 4 lines")
    _poll(app, say)
    new_order = saved.keep(supplier.wait_for(f"[{ref}] New order"), "supplier")
    pdf = order_confirmation_pdf(ref, CONFIRMATION_ROWS, CONFIRMATION_TOTALS)
    supplier.reply(new_order, "SEND\nAnbei unsere Auftragsbestätigung.", "outlook", (("AB-4711.pdf", pdf),))
    say("7. Supplier replied with their own order confirmation (AB-4711.pdf, from their ERP) and SEND")
    _poll(app, say)
    saved.keep(supplier.wait_for(f"[{ref}] Bill rev 1 submitted"), "supplier")
    request = saved.keep(buyer.wait_for(f"[{ref}] Bill rev 1 for approval"), "buyer")
    read_from = next(line.strip() for line in request.text.splitlines() if "read from the supplier's own" in line)
    say(f"   the request says: {read_from}")
    buyer.reply(request, "APPROVE", "gmail")
    say("8. Buyer replied 'APPROVE'")
    _poll(app, say)
    approved = saved.keep(supplier.wait_for(f"[{ref}] Bill rev 1 approved"), "supplier")
    _deliver_and_invoice(app, ref, approved, supplier, buyer, saved, say)
    return ref


def _deliver_and_invoice(app, ref: str, approved: Received, supplier: Party, buyer: Party, saved: _Saver,
                         say: Callable[[str], None]) -> None:
    """After approval: a delivery, the company's receipt, the invoice matched three ways."""
    supplier.reply(approved, "DELIVERED today by our truck", "outlook")
    say("9. Supplier replied 'DELIVERED today by our truck' (no lines: everything approved)")
    _poll(app, say)
    delivery = saved.keep(buyer.wait_for(f"[{ref}] Delivery 1 on its way"), "buyer")
    buyer.reply(delivery, "RECEIVED", "gmail")
    say("10. Buyer replied 'RECEIVED'")
    _poll(app, say)
    saved.keep(supplier.wait_for(f"[{ref}] Receipt confirmed"), "supplier")
    invoice = invoice_pdf(ref, "RE-2026-1187", "28.11.2026", "130,00", "24,70", "154,70")
    supplier.reply(approved, "INVOICE", "outlook", (("RE-2026-1187.pdf", invoice),))
    say("11. Supplier replied 'INVOICE' with RE-2026-1187.pdf")
    _poll(app, say)
    saved.keep(buyer.wait_for(f"[{ref}] Invoice received"), "buyer")
    saved.keep(supplier.wait_for(f"[{ref}] Invoice received — payment due"), "supplier")


def _poll(app, say: Callable[[str], None]) -> None:
    say(f"   supplierbot poll --once → {poll_once(app).summary()}")


class _Saver:
    """Narrates what each party received; the files are written at the end by _keep_every_email."""

    def __init__(self, folder: Path, say: Callable[[str], None]) -> None:
        self.folder, self.say = folder, say

    def keep(self, received: Received, who: str) -> Received:
        self.say(f"   {who} received: {received.subject}")
        return received


def _keep_every_email(app, folder: Path, say: Callable[[str], None]) -> int:
    """Every email of the exchange, in the order it happened: each one the bot sent (its outbox,
    the bytes as sent: the row's, or the file they were spilled to) and each reply it read (the
    raw message of its ledger). Files are copied, not read: an email with a scan is large."""
    with session(app.engine) as s:
        sent = [(row.created_at, "to", row.recipients, row.purpose, app.files.spilled(row.raw) or row.raw)
                for row in s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()]
        read = [(row.received_at, "from", row.sender, row.disposition or "reply",
                 app.files.path_for(row.sha256, "raw"))
                for row in s.exec(select(InboundMessage).order_by(InboundMessage.id)).all()]
    mails = sorted(sent + read, key=lambda mail: mail[0])
    for number, (_, direction, who, what, email) in enumerate(mails, 1):
        name = folder / f"{number:02d}-{direction}-{who.split('@')[0].split(',')[0]}-{_slug(what)}.eml"
        if isinstance(email, Path):
            shutil.copyfile(email, name)
        else:
            name.write_bytes(email)
    say(f"\nKept {len(mails)} emails in {folder}: {len(sent)} the bot sent, {len(read)} replies it read")
    return len(mails)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")[:40] or "mail"


def _finish(app, ref: str, workdir: Path, say: Callable[[str], None], brief: bool = False) -> None:
    with session(app.engine) as s:
        order = queries.order_by_ref(s, ref)
        assert order is not None
        data = order_detail(s, order)
    (workdir / f"{ref}.json").write_text(json.dumps(data, indent=2))
    if brief:
        return
    say("\nFinal state (supplierbot order show):\n")
    say(order_text(data))
    say(f"\nLook at: {workdir}/mail/*.eml (every email of the exchange), {workdir}/{ref}.json, "
        f"and the database with\n  supplierbot --config {workdir}/supplierbot.toml order show {ref}")
