"""The `supplierbot` command line (click): run, poll, orders, order create/show, demo."""
from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading

from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from bot.languages import LANGUAGES, UnknownLanguage
from bot.languages import checked as checked_language
from bot.app import App, build_app
from bot.config import ConfigError, load_config
from bot.jobs import JOBS
from bot.oauth import GOOGLE_AUTH_URL, GOOGLE_SCOPE, GOOGLE_TOKEN_URL, OAuthError, SecretRef
from bot.mailhealth import mail_health, mail_health_text, requeue_failed
from bot.order_import import import_order
from bot.orders import NewOrder, OrderRejected, create_order
from bot.payments import PaymentRefused, payments_due, record_payment, totals_by_currency, write_payments_xlsx
from bot.terms import TermsInvalid, parse_terms
from bot.outbox import send_outbox
from bot.pipeline import drop, release, retry
from bot.runner import poll_once, run_forever
from bot.supervise import Workers, stop_with_parent
from bot.bills import format_money
from bot.views import (
    failed_text, held_text, order_detail, order_rows, order_summary, order_text, orders_text, outbox_text,
    payments_text, queue_status, queue_text, status, status_text, table,
)
from parsers.bill_sheet import SheetInvalid
from parsers.order_import import read_order_import
from parsers.order_lines import read_order_lines
from storage import queries
from storage.db import current_revision, head_revision, make_engine, session, upgrade_schema
from storage.models import BuyerDelegate, InboundStatus, OrderStatus, OutboxStatus, SupplierAddress


class KeyValueFormatter(logging.Formatter):
    """One line per record with its structured fields; never message bodies or passwords."""

    _PLAIN = set(vars(logging.makeLogRecord({})))

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v!r}" for k, v in vars(record).items() if k not in self._PLAIN | {"message"})
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: {record.getMessage()} {fields}"
        return line + ("\n" + self.formatException(record.exc_info) if record.exc_info else "")


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler], force=True)


@click.group(context_settings={"max_content_width": 120})  # wide terminals see whole descriptions
@click.option("--config", "config_path", envvar="SUPPLIERBOT_CONFIG", default="supplierbot.toml",
              show_default=True, type=click.Path(path_type=Path), help="TOML config (or SUPPLIERBOT_CONFIG).")
@click.option("-v", "--verbose", is_flag=True, help="Log each step to stderr.")
@click.pass_context
def main(ctx: click.Context, config_path: Path, verbose: bool) -> None:
    """Email-native supplier portal: orders out, bills in, APPROVE or REJECT by reply."""
    _setup_logging(verbose)
    ctx.obj = config_path


def _app(ctx: click.Context) -> App:
    try:
        return build_app(load_config(ctx.obj))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--once", is_flag=True, help="Process what is waiting, send what is queued, and exit.")
@click.pass_context
def poll(ctx: click.Context, once: bool) -> None:
    """Fetch and process new mail, then send the outbox."""
    app = _app(ctx)
    if not once:
        run_forever(app)
        return
    report = poll_once(app)
    click.echo(report.summary())
    if report.send.failed:
        click.echo("emails failed for good: `supplierbot outbox list --status failed` says why; "
                   "`supplierbot outbox retry --failed` sends them again after the fix", err=True)
    if report.fetch_error or report.send.error or report.send.failed:
        sys.exit(1)


@main.command()
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes on this host sharing the work (PostgreSQL only; SQLite takes one).")
@click.pass_context
def run(ctx: click.Context, workers: int) -> None:
    """Watch the mailbox, apply and answer what arrives, and run the schedules until stopped.

    Any number of `run` processes, on this host or others, may share one PostgreSQL store:
    one of them fetches (the others take over if it dies), all of them apply and send."""
    app = _app(ctx)
    if workers > 1 and app.engine.dialect.name == "sqlite":
        raise click.ClickException("SQLite takes one process: --workers needs a PostgreSQL store (database_url)")
    command = [sys.executable, "-m", "bot.cli", "--config", str(ctx.obj),
               *(["-v"] if logging.getLogger().level <= logging.INFO else []), "run"]
    stop = threading.Event()  # set by SIGTERM/SIGINT (run_forever): from then on no worker is restarted
    stop_with_parent(stop)  # a worker of another `run --workers`: it stops when that process is gone
    others = Workers(command, workers - 1, stopping=stop).start()  # a worker that dies is started again
    try:
        run_forever(app, stop)
    finally:
        others.stop()


@main.command()
@click.option("--status", "state", type=click.Choice([s.value for s in OrderStatus]), default=None,
              help="Only orders in this state.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=100, show_default=True)
@click.option("--offset", default=0)
@click.pass_context
def orders(ctx: click.Context, state: str | None, as_json: bool, limit: int, offset: int) -> None:
    """List orders, newest first: status, supplier, totals, latest bill, dates."""
    app = _app(ctx)
    with session(app.engine) as s:
        found = queries.all_orders(s, limit, offset, OrderStatus(state) if state else None)
        if as_json:
            click.echo(json.dumps([order_summary(s, order) for order in found], indent=2))
            return
        click.echo(orders_text(order_rows(s, found), _zone(app)))


def _zone(app: App) -> ZoneInfo:
    """Times are stored in UTC and shown in the configured zone (schedule.timezone)."""
    return ZoneInfo(app.config.schedule.timezone)


@main.group()
def order() -> None:
    """Create and inspect orders."""


@order.command("create")
@click.option("--supplier", required=True, help="Supplier email (created if new).")
@click.option("--buyer", "buyers", multiple=True, required=True, help="Buyer email; repeat for several.")
@click.option("--file", "lines_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV or XLSX of lines: sku, description, quantity, unit, unit price, tax rate.")
@click.option("--currency", default=None, help="Default: the supplier's contract currency, else EUR.")
@click.option("--ref", default=None, help="Reference like PO-2026-0042 (default: the next number).")
@click.option("--delivery", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Requested delivery date.")
@click.option("--deliver-to", default="", help='Delivery address, shown to the supplier; "\\n" or "," between lines.')
@click.option("--buyer-ref", default="", help="The buyer's own reference (cost centre, project), shown to the supplier.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def order_create(ctx: click.Context, supplier: str, buyers: tuple[str, ...], lines_file: Path, currency: str | None,
                 ref: str | None, delivery, deliver_to: str, buyer_ref: str, as_json: bool) -> None:
    """Create an order and queue the new-order email to the supplier."""
    app = _app(ctx)
    try:
        lines = read_order_lines(lines_file.read_bytes(), lines_file.name)
        new = NewOrder(supplier.strip().lower(), tuple(b.strip().lower() for b in buyers), lines,
                       currency, ref, delivery.date() if delivery else None,
                       deliver_to.replace("\\n", "\n").strip(), buyer_ref.strip())
        created = create_order(app, new)
    except SheetInvalid as exc:
        raise click.ClickException(f"{lines_file}: " + "; ".join(str(p) for p in exc.problems)) from None
    except OrderRejected as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps({"ref": created}) if as_json else f"created {created}; the email is queued")


@order.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def order_import(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Many orders from one spreadsheet or CSV, one per reference; a report of every order, created or refused."""
    app = _app(ctx)
    try:
        imported = read_order_import(file.read_bytes(), file.name)
    except SheetInvalid as exc:
        raise click.ClickException(f"{file}: " + "; ".join(str(p) for p in exc.problems)) from None
    with click.progressbar(imported, label=f"Importing {len(imported)} orders", file=sys.stderr) as bar:
        results = [import_order(app, one) for one in bar]
    refused = [r for r in results if r.refused]
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        click.echo(table([[", ".join(map(str, r.rows)), r.key, r.ref or "refused", r.refused] for r in results],
                         ["rows", "reference", "order", "why refused"]))
        click.echo(f"{len(results) - len(refused)} created, {len(refused)} refused; the emails are queued")
    if refused:
        ctx.exit(1)


@order.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def order_show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """An order with its revisions and timeline."""
    app = _app(ctx)
    with session(app.engine) as s:
        found = queries.order_by_ref(s, ref)
        if found is None:
            raise click.ClickException(f"no order {ref}")
        data = order_detail(s, found)
    click.echo(json.dumps(data, indent=2) if as_json else order_text(data, _zone(app), found.requested_delivery))


@main.group()
def supplier() -> None:
    """Suppliers and the addresses that act for them."""


@supplier.command("set")
@click.argument("email")
@click.option("--name", default=None)
@click.option("--address", "addresses", multiple=True, help="Another address that acts for the supplier.")
@click.option("--domain", default=None, help="Every address @DOMAIN acts for the supplier ('' to stop).")
@click.option("--terms", default=None, help='Payment terms: "net 30", "net 60 EOM", "2/10 net 30".')
@click.option("--currency", default=None, help="The contract's currency; new orders use it by default.")
@click.option("--language", default=None,
              help=f"Their emails' language: {', '.join(LANGUAGES)} ('' = the company's, [bot] language).")
@click.pass_context
def supplier_set(ctx: click.Context, email: str, name: str | None, addresses: tuple[str, ...],
                 domain: str | None, terms: str | None, currency: str | None, language: str | None) -> None:
    """Create or change a supplier; prints what it now is."""
    app = _app(ctx)
    try:
        language = None if language is None else (checked_language(language) if language.strip() else "")
    except UnknownLanguage as exc:
        raise click.ClickException(str(exc)) from None
    with session(app.engine) as s:
        found = queries.supplier_for(s, email)
        if terms is not None:
            try:
                found.terms = str(parse_terms(terms))
            except TermsInvalid as exc:
                raise click.ClickException(str(exc)) from None
        if name is not None:
            found.name = name
        if domain is not None:
            found.domain = domain.strip().lower().lstrip("@")
        if currency is not None:
            if len(currency) != 3 or not currency.isalpha():
                raise click.ClickException(f"currency must be a 3-letter code like EUR, got {currency!r}")
            found.currency = currency.upper()
        if language is not None:
            found.language = language
        for address in addresses:
            if "@" not in address:
                raise click.ClickException(f"not an email address: {address!r}")
            if address.lower() not in queries.supplier_addresses(s, found.id):
                s.add(SupplierAddress(supplier_id=found.id, email=address.strip().lower()))
        s.commit()
        data = {"email": found.email, "name": found.name, "domain": found.domain, "terms": found.terms,
                "currency": found.currency, "language": found.language or f"{app.config.bot.language} (the company's)",
                "addresses": queries.supplier_addresses(s, found.id)}
    click.echo(json.dumps(data, indent=2))


@main.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Per supplier: unprocessed, rejected, awaiting approval/invoice; per buyer: bills to decide."""
    app = _app(ctx)
    with session(app.engine) as s:
        data = status(s)
        health = mail_health(app, s)
        queue = queue_status(s, app.clock())
    if as_json:
        click.echo(json.dumps({**data, "mail": health, "queue": queue}, indent=2))
        return
    click.echo("\n".join(filter(None, (mail_health_text(health), queue_text(queue), status_text(data)))))


@main.group()
def jobs() -> None:
    """The scheduled jobs, for cron and for tests."""


@jobs.command("run")
@click.argument("name", type=click.Choice(sorted(JOBS)))
@click.pass_context
def jobs_run(ctx: click.Context, name: str) -> None:
    """Run one job now (it still sends only what is due), then send the outbox."""
    app = _app(ctx)
    count = JOBS[name](app)
    report = asyncio.run(send_outbox(app))
    click.echo(f"{name}: {count} email(s) queued; sent {report.sent}")


@main.group()
def payments() -> None:
    """What is due to whom, and when."""


@payments.command("due")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Due (or discount) by this date.")
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def payments_due_command(ctx: click.Context, until, xlsx_path: Path | None, as_json: bool) -> None:
    """The payment run: invoiced, unpaid orders with amounts, discounts, due dates and totals per currency."""
    app = _app(ctx)
    with session(app.engine) as s:
        rows = payments_due(s, until.date() if until else None)
    if xlsx_path:
        write_payments_xlsx(rows, xlsx_path)
    totals = {currency: str(total) for currency, total in totals_by_currency(rows).items()}
    if as_json:
        click.echo(json.dumps({"payments": [_payment_json(r) for r in rows], "totals": totals}, indent=2))
        return
    if rows:
        click.echo(payments_text(rows))
    click.echo("totals: " + (", ".join(format_money(Decimal(t), c) for c, t in totals.items()) or "nothing due"))


def _payment_json(r) -> dict:
    return {"supplier": r.supplier, "ref": r.ref, "invoice": r.invoice_number,
            "invoice_date": r.invoice_date.isoformat(), "currency": r.currency, "amount": str(r.amount),
            "discount_until": r.discount_until.isoformat() if r.discount_until else None,
            "discount_amount": str(r.discount_amount), "due": r.due.isoformat(), "total_differs": r.total_differs}


@main.group()
def payment() -> None:
    """Record payments."""


@payment.command("record")
@click.argument("ref")
@click.option("--date", "paid_on", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Default: today.")
@click.option("--amount", default=None, help="Default: the approved total.")
@click.pass_context
def payment_record(ctx: click.Context, ref: str, paid_on, amount: str | None) -> None:
    """Mark an invoiced order paid and send the supplier a remittance note."""
    app = _app(ctx)
    with session(app.engine) as s:
        found = queries.order_by_ref(s, ref)
        if found is None:
            raise click.ClickException(f"no order {ref}")
        try:
            value = Decimal(amount) if amount is not None else None
            record_payment(app, s, found, paid_on.date() if paid_on else app.clock().date(), value, "operator")
        except (PaymentRefused, InvalidOperation) as exc:
            raise click.ClickException(str(exc) or f"not an amount: {amount!r}") from None
        s.commit()
    report = asyncio.run(send_outbox(app))
    click.echo(f"{ref}: paid; remittance note sent {report.sent}")


@main.group()
def buyer() -> None:
    """Buyers and their delegates."""


@buyer.command("delegate")
@click.argument("buyer_email")
@click.argument("delegate_email")
@click.pass_context
def buyer_delegate(ctx: click.Context, buyer_email: str, delegate_email: str) -> None:
    """Let DELEGATE_EMAIL approve and reject wherever BUYER_EMAIL may."""
    app = _app(ctx)
    with session(app.engine) as s:
        found = queries.buyer_for(s, buyer_email)
        if delegate_email.lower() not in queries.delegates_of(s, found.id):
            s.add(BuyerDelegate(buyer_id=found.id, email=delegate_email.strip().lower()))
        s.commit()
        click.echo(f"{found.email} delegates: {', '.join(queries.delegates_of(s, found.id))}")


@main.group()
def document() -> None:
    """Documents kept by content hash: bill sheets, scans, invoices."""


@document.command("get")
@click.argument("digest")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def document_get(ctx: click.Context, digest: str, output: Path) -> None:
    """Write the document with this SHA-256 (as `order show` lists it) to a file."""
    app = _app(ctx)
    with session(app.engine) as s:
        found = queries.document_by_hash(s, digest)
    if found is None:
        raise click.ClickException(f"no document {digest}")
    output.write_bytes(app.files.read(found.sha256, "documents"))
    click.echo(f"{found.filename} ({found.kind}, {found.size:,} bytes) → {output}")


@main.group()
def failed() -> None:
    """Messages that could not be processed (kept with their raw bytes)."""


@failed.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def failed_list(ctx: click.Context, as_json: bool) -> None:
    """Failed messages: attempts, next retry (none = set aside), and the last error."""
    app = _app(ctx)
    with session(app.engine) as s:
        rows = [{"id": r.id, "uid": r.uid, "sender": r.sender, "subject": r.subject, "attempts": r.attempts,
                 "next_attempt_at": r.next_attempt_at.isoformat() if r.next_attempt_at else None,
                 "error": r.error, "raw_path": r.raw_path} for r in queries.inbound_with_status(s)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(failed_text(rows, _zone(app)) if rows else "no failed messages")


@failed.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "retry_all", is_flag=True, help="Retry every failed message.")
@click.pass_context
def failed_retry(ctx: click.Context, ids: tuple[int, ...], retry_all: bool) -> None:
    """Process failed messages again now (after a fix), then send what that queued."""
    app = _app(ctx)
    if retry_all:
        with session(app.engine) as s:
            ids = tuple(r.id for r in queries.inbound_with_status(s))
    if not ids:
        raise click.UsageError("give message ids or --all")
    for inbound_id in ids:
        outcome = retry(app, inbound_id)
        click.echo(f"#{inbound_id}: " + (f"{outcome.status.value} ({outcome.disposition})" if outcome
                                          else "not a failed message"))
    report = asyncio.run(send_outbox(app))
    click.echo(f"sent {report.sent}, failed {report.failed}, waiting {report.deferred}")


@main.group()
def held() -> None:
    """Decisions held because the sender could not be authenticated (auth.require_dmarc)."""


@held.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def held_list(ctx: click.Context, as_json: bool) -> None:
    app = _app(ctx)
    with session(app.engine) as s:
        rows = [{"id": r.id, "sender": r.sender, "subject": r.subject, "reason": r.disposition,
                 "received_at": r.received_at.isoformat()} for r in queries.inbound_with_status(s, InboundStatus.HELD)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(held_text(rows, _zone(app)) if rows else "no held decisions")


@held.command("release")
@click.argument("inbound_id", type=int)
@click.pass_context
def held_release(ctx: click.Context, inbound_id: int) -> None:
    """Apply a held decision as if it were authenticated (you vouch for the sender)."""
    app = _app(ctx)
    outcome = release(app, inbound_id)
    if outcome is None:
        raise click.ClickException(f"#{inbound_id} is not a held message")
    report = asyncio.run(send_outbox(app))
    click.echo(f"#{inbound_id}: {outcome.status.value} ({outcome.disposition}); sent {report.sent}")


@held.command("drop")
@click.argument("inbound_id", type=int)
@click.pass_context
def held_drop(ctx: click.Context, inbound_id: int) -> None:
    """Discard a held decision; it stays in the ledger as dropped."""
    if not drop(_app(ctx), inbound_id):
        raise click.ClickException(f"#{inbound_id} is not a held message")
    click.echo(f"#{inbound_id}: dropped")


@main.group()
def outbox() -> None:
    """Emails the bot decided to send."""


@outbox.command("list")
@click.option("--status", type=click.Choice([s.value for s in OutboxStatus]), default=None)
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def outbox_list(ctx: click.Context, status: str | None, limit: int, as_json: bool) -> None:
    """Newest first: status, attempts, recipients, subject, last error."""
    app = _app(ctx)
    with session(app.engine) as s:
        rows = [{"id": r.id, "status": r.status.value, "attempts": r.attempts, "recipients": r.recipients,
                 "subject": r.subject, "message_id": r.message_id, "last_error": r.last_error,
                 "sent_at": r.sent_at.isoformat() if r.sent_at else None, "claimed_by": r.claimed_by or None}
                for r in queries.outbox_rows(s, OutboxStatus(status) if status else None, limit)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(outbox_text(rows, _zone(app)))


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--failed", "every_failed", is_flag=True, help="Every email that failed for good.")
@click.pass_context
def outbox_retry(ctx: click.Context, ids: tuple[int, ...], every_failed: bool) -> None:
    """Send emails that failed for good again, after a fix: the same email, with the same Message-ID."""
    if not ids and not every_failed:
        raise click.UsageError("give outbox ids (see `outbox list --status failed`) or --failed")
    app = _app(ctx)
    rows, unknown = requeue_failed(app, None if every_failed else ids)
    for outbox_id in unknown:
        click.echo(f"#{outbox_id}: not a failed email", err=True)
    for row in rows:
        click.echo(f"#{row.id}: queued again {row.message_id} (last time: {row.last_error[:120]})")
    report = asyncio.run(send_outbox(app))
    click.echo(f"sent {report.sent}, failed {report.failed}, waiting {report.deferred}"
               + (f"; errors: {report.error}" if report.error else ""))
    if unknown or report.failed or report.error:
        sys.exit(1)


@main.command("check")
@click.option("--create-folders", is_flag=True, help="Create imap.processed_folder and failed_folder if missing.")
@click.option("--send-test", "send_test", default="", metavar="ADDRESS", help="Also send a test email to ADDRESS.")
@click.pass_context
def check_command(ctx: click.Context, create_folders: bool, send_test: str) -> None:
    """Log in to IMAP and SMTP as `run` will, and say what the bot will do on these servers."""
    from bot.check import run_check

    try:
        config = load_config(ctx.obj)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    findings = run_check(config, create_folders, send_test)
    for finding in findings:
        click.echo(finding.line())
    if any(f.level == "problem" for f in findings):
        sys.exit(1)


@main.command("auth")
@click.option("--client-id", required=True, help="The OAuth client (type Desktop app) from the Google Cloud console.")
@click.option("--client-secret-env", default=None, metavar="VARIABLE", help="Its secret, from this variable…")
@click.option("--client-secret-file", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="…or from this file.")
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to store the refresh token (then set oauth.refresh_token_file to it).")
@click.option("--login-hint", default="", help="The mailbox to sign in as (preselects the account).")
@click.option("--port", default=0, show_default=True, help="Loopback port for the redirect (0: any free port).")
@click.option("--timeout", default=300, show_default=True, help="Seconds to wait for the browser.")
@click.option("--auth-url", default=GOOGLE_AUTH_URL, show_default=True)
@click.option("--token-url", default=GOOGLE_TOKEN_URL, show_default=True)
@click.option("--scope", default=GOOGLE_SCOPE, show_default=True)
def auth_command(client_id: str, client_secret_env: str | None, client_secret_file: Path | None, output: Path,
                 login_hint: str, port: int, timeout: int, auth_url: str, token_url: str, scope: str) -> None:
    """Obtain a Gmail user's refresh token once (installed-app flow in a browser) and store it privately."""
    from bot.authflow import InstalledApp, obtain_refresh_token, store_refresh_token

    secret = SecretRef("--client-secret", env=client_secret_env or "", file=client_secret_file)
    if not client_secret_env and client_secret_file is None:
        raise click.UsageError("give --client-secret-env VARIABLE or --client-secret-file PATH")
    try:
        app = InstalledApp(client_id, secret.read(), auth_url, token_url, scope)
        token = obtain_refresh_token(app, lambda url: click.echo(f"Open this address in a browser and sign in:\n{url}"),
                                     port, login_hint, timeout)
    except OAuthError as exc:
        raise click.ClickException(str(exc)) from None
    store_refresh_token(output, token)
    click.echo(f"refresh token stored in {output} (mode 0600). In the config:\n"
               f'[oauth]\nprovider = "google_user"\nclient_id = "{client_id}"\n'
               + (f'client_secret_env = "{client_secret_env}"' if client_secret_env
                  else f'client_secret_file = "{client_secret_file}"')
               + f'\nrefresh_token_file = "{output}"')


@main.group()
def db() -> None:
    """The database schema: where it is, and upgrading it to this version."""


def _engine(ctx: click.Context):
    try:
        return make_engine(load_config(ctx.obj).storage.database_url, prepare=False)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@db.command("status")
@click.pass_context
def db_status(ctx: click.Context) -> None:
    """The database's schema revision and the one this version needs."""
    current, head = current_revision(_engine(ctx)), head_revision()
    state = "up to date" if current == head else "run `supplierbot db upgrade`"
    click.echo(f"database at {current or 'no revision (new, or made before migrations)'}; "
               f"this version needs {head}: {state}")


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Migrate the database to this version's schema (back it up first). Safe to run twice."""
    before, after = upgrade_schema(_engine(ctx))
    click.echo(f"database upgraded from {before} to {after}" if before != after else f"database already at {after}")


@main.command()
@click.option("--workdir", type=click.Path(path_type=Path), default=Path("demo-output"), show_default=True,
              help="Where the demo's config, database and files are kept for you to look at.")
@click.option("--secure", is_flag=True, help="The bot's mailbox as on Microsoft 365 or Gmail: TLS with a private "
                                             "CA, AUTH only over TLS, OAuth2 only.")
def demo(workdir: Path, secure: bool) -> None:
    """Run the whole round trip against a local mail server, playing supplier and buyer."""
    from bot.demo import run_demo  # needs aiosmtpd and Dovecot, which only the demo and tests use

    run_demo(workdir, click.echo, secure)




if __name__ == "__main__":
    main()
