"""The `supplierbot` command line, in-process with click's runner, against real servers."""
from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from storage import queries
from storage.db import head_revision, session
from storage.models import OrderStatus
from tests.conftest import LINES_CSV, World


def cli(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


def test_a_wrong_config_is_reported_by_key_before_any_mail_is_touched(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[bot]\naddress = "bot@x.test"\ncustomer_name = "X"\n[imap]\nhost = "h"\nport = 0\n[smtp]\n')
    code, output = cli(config, "poll", "--once")
    assert code == 1
    assert "imap.port: expected an integer from 1 to 65535, got 0" in output
    assert "smtp.host: missing" in output
    assert not (tmp_path / "data").exists()


def test_create_show_and_list_orders_as_json(world: World, tmp_path: Path) -> None:
    lines = tmp_path / "lines.csv"
    lines.write_bytes(LINES_CSV)
    code, output = cli(world.config_path, "order", "create", "--supplier", world.supplier.address,
                       "--buyer", world.buyer.address, "--buyer", "second@example.test", "--file", str(lines),
                       "--currency", "usd", "--ref", "PO-2026-0777", "--json")
    assert code == 0 and json.loads(output) == {"ref": "PO-2026-0777"}

    code, output = cli(world.config_path, "order", "show", "PO-2026-0777", "--json")
    data = json.loads(output)
    assert {"ref", "status", "supplier", "buyers", "currency", "lines", "revisions", "events"} <= set(data)
    assert (data["status"], data["currency"], data["supplier"]) == ("new", "USD", world.supplier.address)
    assert data["buyers"] == sorted([world.buyer.address, "second@example.test"])
    assert data["lines"][0] == {"sku": "BLT-M8", "description": "Hex bolt M8x40", "quantity": "500",
                                "unit": "pcs", "unit_price": "0.12", "tax_rate": "19", "net": "60.00"}
    assert data["events"][0]["kind"] == "created"

    code, output = cli(world.config_path, "orders", "--json")
    assert [o["ref"] for o in json.loads(output)] == ["PO-2026-0777"]

    code, output = cli(world.config_path, "poll", "--once")
    assert code == 0 and "sent 1" in output
    assert world.supplier.wait_for("[PO-2026-0777] New order")


def test_bad_order_input_is_refused_with_the_place(world: World, tmp_path: Path) -> None:
    lines = tmp_path / "lines.csv"
    lines.write_bytes(b"sku;description;quantity;unit price\nA;x;ten;1\n")
    code, output = cli(world.config_path, "order", "create", "--supplier", world.supplier.address,
                       "--buyer", world.buyer.address, "--file", str(lines))
    assert code == 1 and "row 2, column C (Quantity): Quantity must be a number, found 'ten'" in output
    lines.write_bytes(LINES_CSV)
    code, output = cli(world.config_path, "order", "create", "--supplier", world.supplier.address,
                       "--buyer", world.supplier.address, "--file", str(lines))
    assert code == 1 and "the supplier cannot also be a buyer" in output
    code, output = cli(world.config_path, "order", "show", "PO-1999-0001")
    assert code == 1 and "no order PO-1999-0001" in output


def test_poll_reports_an_unreachable_mail_server(world: World, tmp_path: Path) -> None:
    text = world.config_path.read_text().replace(f"port = {world.supplier.imap_port}", "port = 9")
    config = tmp_path / "down.toml"
    config.write_text(text)
    code, output = cli(config, "poll", "--once")
    assert code == 1 and "IMAP 127.0.0.1:9" in output


def test_orders_use_the_contract_currency_and_xlsx_lines_import(world: World, tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    for row in (["Artikel", "Menge", "Einzelpreis", "MwSt"], ["X-1", 3, "1,50", 19]):
        workbook.active.append(row)
    workbook.save(tmp_path / "lines.xlsx")
    cli(world.config_path, "supplier", "set", world.supplier.address, "--currency", "chf")
    code, output = cli(world.config_path, "order", "create", "--supplier", world.supplier.address,
                       "--buyer", world.buyer.address, "--file", str(tmp_path / "lines.xlsx"), "--json")
    ref = json.loads(output)["ref"]
    data = json.loads(cli(world.config_path, "order", "show", ref, "--json")[1])
    assert data["currency"] == "CHF" and data["lines"][0]["unit_price"] == "1.5" and data["total"] == "5.36"


def test_outbox_list_shows_what_was_sent(world: World) -> None:
    world.order()
    code, output = cli(world.config_path, "outbox", "list", "--status", "queued", "--json")
    assert code == 0 and [r["status"] for r in json.loads(output)] == ["queued"]
    world.poll()
    rows = json.loads(cli(world.config_path, "outbox", "list", "--json")[1])
    assert rows[0]["status"] == "sent" and rows[0]["attempts"] == 1 and rows[0]["recipients"] == world.supplier.address


#: columns added after the first release (besides the outbox claims), by migration 0003 on
FIRST_RELEASE_LACKS = (("revision", "read_from"), ("revision", "reconciled"), ("revision", "doubts"),
                       ("revision_line", "source"), ("revision_line", "remark"), ("revision_line", "doubtful"),
                       ("invoice", "net_read"), ("invoice", "tax_read"), ("invoice", "hold"),
                       ("supplier", "language"), ("purchase_order", "deliver_to"), ("purchase_order", "buyer_ref"),
                       ("revision", "auto_approve_at"), ("revision", "auto_approval"), ("reply_token", "step"),
                       ("buyer", "away_since"),
                       ("inbound_message", "claimed_by"), ("inbound_message", "claimed_until"),
                       ("inbound_message", "queue_key"))
#: tables added after the first release, by migration 0004 on
FIRST_RELEASE_LACKS_TABLES = ("fetcher_lease", "claim", "receipt_line", "receipt", "delivery_line", "delivery",
                              "approval_step")


def test_a_database_from_the_first_release_is_refused_until_upgraded_then_works(world: World) -> None:
    ref = world.order()  # queued, not sent yet
    world.app.engine.dispose()
    with sqlite3.connect(world.config_path.parent / "bot.db") as connection:  # as the first release left it
        connection.execute("ALTER TABLE outbox_message DROP COLUMN claimed_until")
        connection.execute("ALTER TABLE outbox_message DROP COLUMN claimed_by")
        connection.execute("DROP INDEX ix_inbound_message_queue")
        connection.execute("DROP INDEX ix_inbound_message_queue_key")
        connection.execute("DROP INDEX ix_inbound_message_queue_sender")
        for table, column in FIRST_RELEASE_LACKS:
            connection.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        for table in FIRST_RELEASE_LACKS_TABLES:
            connection.execute(f"DROP TABLE {table}")
        connection.execute("DROP TABLE alembic_version")
    head = head_revision()

    code, output = cli(world.config_path, "poll", "--once")
    assert code == 1
    assert f"is at schema revision 0001, this version needs {head}" in output
    assert "supplierbot db upgrade" in output
    assert world.supplier.inbox() == []  # nothing was fetched or sent

    assert cli(world.config_path, "db", "upgrade") == (0, f"database upgraded from 0001 to {head}\n")
    assert cli(world.config_path, "db", "upgrade") == (0, f"database already at {head}\n")
    assert cli(world.config_path, "db", "status")[1].endswith(f"this version needs {head}: up to date\n")
    code, output = cli(world.config_path, "poll", "--once")
    assert code == 0, output
    world.supplier.wait_for(f"[{ref}] New order")


def test_a_model_column_without_a_migration_is_caught_at_start(world: World) -> None:
    world.app.engine.dispose()
    with sqlite3.connect(world.config_path.parent / "bot.db") as connection:
        connection.execute("ALTER TABLE outbox_message DROP COLUMN claimed_until")

    code, output = cli(world.config_path, "status")

    assert code == 1 and "lacks outbox_message.claimed_until: a migration is missing" in output


def test_orders_are_an_aligned_table_with_totals_dates_in_the_configured_zone_and_a_status_filter(
        world: World, tmp_path: Path) -> None:
    world.reconfigure(schedule={"timezone": "Europe/Berlin"})
    lines = tmp_path / "lines.csv"
    lines.write_bytes(LINES_CSV)
    first = world.order()
    code, output = cli(world.config_path, "order", "create", "--supplier", world.supplier.address, "--buyer",
                       world.buyer.address, "--file", str(lines), "--delivery", "2026-12-14", "--json")
    second = json.loads(output)["ref"]
    with session(world.app.engine) as s:
        queries.order_by_ref(s, first).status = OrderStatus.REJECTED
        s.commit()
    code, output = cli(world.config_path, "orders")
    header, rule, *rows = output.splitlines()
    assert code == 0 and header.split() == ["order", "status", "supplier", "ordered", "latest", "bill",
                                            "created", "(Europe/Berlin)", "delivery"]
    assert set(rule) == {"-", " "} and len(rows) == 2
    assert [row.split()[0] for row in rows] == [second, first]
    assert all(row.index("EUR 280.84") == rows[0].index("EUR 280.84") for row in rows)  # one column, aligned
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d CES?T", rows[0]) and "2026-12-14" in rows[0]
    code, output = cli(world.config_path, "orders", "--status", "rejected")
    assert [row.split()[0] for row in output.splitlines()[2:]] == [first]
    assert [o["ref"] for o in json.loads(cli(world.config_path, "orders", "--status", "new", "--json")[1])] == [second]


def test_outbox_list_has_a_header_that_names_the_attempts(world: World) -> None:
    world.order()
    world.poll()
    header, rule, row = cli(world.config_path, "outbox", "list")[1].splitlines()
    assert header.split()[:4] == ["id", "status", "attempts", "to"] and "last error" in header
    assert row.split()[1:4] == ["sent", "1", world.supplier.address]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", row)  # the configured zone (UTC by default), named


def test_order_show_lists_each_document_with_its_revision_and_a_zoned_timeline(world: World) -> None:
    ref = world.order()
    world.poll()
    mail = world.supplier.wait_for(f"[{ref}] New order")
    world.supplier.reply(mail, "SEND", attachments=((f"{ref}-bill.xlsx", mail.attachment(".xlsx")[1]),))
    world.poll()
    shown = cli(world.config_path, "order", "show", ref)[1]
    assert "ordered EUR 280.84 on" in shown and "timeline (UTC):" in shown
    documents = shown.split("documents:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert documents[0].split()[:4] == ["rev", "kind", "file", "bytes"]
    assert [line.split()[:3] for line in documents[2:]] == [["1", "bill_sheet", f"{ref}-bill.xlsx"]]


def test_help_on_a_wide_terminal_shows_whole_descriptions() -> None:
    listing = CliRunner().invoke(main, ["--help"], terminal_width=120).output
    assert "Obtain a Gmail user's refresh token once (installed-app flow in a browser) and store it privately." in listing
    assert "..." not in listing.split("Commands:", 1)[1]
