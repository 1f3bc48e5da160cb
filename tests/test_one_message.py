"""One message's scope on the worker's hot path (queries.one_message): its events are written
together, in order, at its end and dropped with it; what it reads once stays right as it writes."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import event as sa_event

from parsers.records import Line
from storage import queries
from storage.db import make_engine, session
from storage.models import InboundMessage, InboundStatus, PurchaseOrder, Revision, RevisionStatus

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def engine(tmp_path):
    return make_engine(f"sqlite:///{tmp_path / 'bot.db'}")


def _order(s) -> PurchaseOrder:
    supplier = queries.supplier_for(s, "sales@supplier.test")
    order = PurchaseOrder(ref="PO-2026-0001", customer="ACME", supplier_id=supplier.id, currency="EUR", created_at=NOW)
    s.add(order)
    s.flush()
    return order


def test_events_go_in_one_statement_in_order(engine) -> None:
    with session(engine) as s:
        order = _order(s)
        statements: list[tuple[str, bool]] = []
        sa_event.listen(engine, "before_cursor_execute",
                        lambda conn, cursor, statement, params, context, many: statements.append((statement, many)))
        with queries.one_message(s):
            for kind in ("email_received", "draft_created", "email_queued"):
                queries.add_event(s, order.id, NOW, "bot", kind)
            assert not statements  # held until the message ends
        s.commit()
        inserts = [many for statement, many in statements if statement.startswith("INSERT INTO event")]
        assert inserts == [True]
        assert [e.kind for e in queries.events_of(s, order.id)] == ["email_received", "draft_created", "email_queued"]


def test_a_failed_message_leaves_no_events(engine) -> None:
    with session(engine) as s:
        order = _order(s)
        savepoint = s.begin_nested()
        with pytest.raises(RuntimeError), queries.one_message(s):
            queries.add_event(s, order.id, NOW, "bot", "email_received")
            raise RuntimeError("a system error")
        savepoint.rollback()
        queries.add_event(s, order.id, NOW, "bot", "after")  # outside a message: written at once
        s.commit()
        assert [e.kind for e in queries.events_of(s, order.id)] == ["after"]


def test_reads_made_once_see_the_message_s_own_writes(engine) -> None:
    with session(engine) as s:
        order = _order(s)
        with queries.one_message(s):
            assert queries.revisions_of(s, order.id) == []
            revision = Revision(order_id=order.id, number=1, status=RevisionStatus.DRAFT, created_at=NOW)
            s.add(revision)
            s.flush()
            queries.remember_revision(s, revision)
            assert [r.number for r in queries.revisions_of(s, order.id)] == [1]
            revision.status = RevisionStatus.SUBMITTED  # the same object: its status is seen
            assert queries.revisions_of(s, order.id)[0].status is RevisionStatus.SUBMITTED
            assert queries.revision_lines(s, revision.id) == []
            line = Line("SKU-1", "Bolt", Decimal(10), "pcs", Decimal("1.25"), Decimal(19))
            queries.replace_revision_lines(s, revision.id, [line], fresh=True)
            assert queries.revision_lines(s, revision.id) == [line]  # read again after its lines changed
        assert queries.revisions_of(s, order.id) == [revision]  # outside a message: read every time


def _draft(s) -> tuple[PurchaseOrder, Revision]:
    order = _order(s)
    revision = Revision(order_id=order.id, number=1, status=RevisionStatus.DRAFT, created_at=NOW)
    s.add(revision)
    s.flush()
    return order, revision


def _keep_scan(s, order: PurchaseOrder, digest: str):
    return queries.add_document(s, sha256=digest, filename="scan.pdf", content_type="application/pdf", size=3,
                                kind="scan", order_id=order.id, revision_id=None, created_at=NOW)


def test_a_document_kept_in_a_message_is_found_again_and_bound_to_a_revision(engine) -> None:
    digest = "ab" * 32
    with session(engine) as s:
        order, revision = _draft(s)
        with queries.one_message(s):
            assert queries.document_of(s, order.id, digest, "scan") is None
            kept = _keep_scan(s, order, digest)
            assert queries.document_of(s, order.id, digest, "scan") is kept  # the order's documents gained it
            queries.bind_document(s, kept, revision.id)
            assert queries.documents_of(s, order_id=order.id, revision_id=revision.id) == [kept]
        s.commit()
        assert [d.id for d in queries.documents_of(s, order_id=order.id, revision_id=revision.id)] == [kept.id]


def test_a_document_read_from_the_database_is_bound_with_its_savepoint(engine) -> None:
    digest = "cd" * 32
    with session(engine) as s:
        order, revision = _draft(s)
        _keep_scan(s, order, digest)
        s.commit()
        for undone in (True, False):
            savepoint = s.begin_nested()
            with queries.one_message(s):
                found = queries.document_of(s, order.id, digest, "scan")
                assert found is not None and found in s
                queries.bind_document(s, found, revision.id)
            savepoint.rollback() if undone else savepoint.commit()
            bound = [d.sha256 for d in queries.documents_of(s, order_id=order.id, revision_id=revision.id)]
            assert bound == ([] if undone else [digest])


def test_a_settled_row_reads_what_the_database_holds_after_its_savepoint_is_undone(engine) -> None:
    with session(engine) as s:
        row = InboundMessage(account="a", folder="INBOX", uidvalidity=1, uid=1, sha256="ef" * 32, raw_path="x",
                             size=1, status=InboundStatus.QUEUED, received_at=NOW, claimed_by="me", claimed_until=NOW)
        s.add(row)
        s.commit()
        savepoint = s.begin_nested()
        queries.settle_inbound(s, row, status=InboundStatus.APPLIED, disposition="draft", order_id=None,
                               claimed_by="", claimed_until=None)
        savepoint.rollback()
        assert (row.status, row.claimed_by) == (InboundStatus.QUEUED, "me")
        queries.settle_inbound(s, row, status=InboundStatus.APPLIED, disposition="draft", order_id=None,
                               claimed_by="", claimed_until=None)
        s.commit()
        assert (row.status, row.disposition, row.claimed_by, row.claimed_until) == (
            InboundStatus.APPLIED, "draft", "", None)


def test_new_rows_get_their_ids_on_a_sqlite_without_returning(tmp_path) -> None:
    # RHEL 9's Python links SQLite 3.34, which has no RETURNING: the ids come from lastrowid there
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    engine.dialect.insert_returning = False  # what SQLAlchemy decides for a SQLite before 3.35
    sent: list[str] = []
    sa_event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    now = datetime(2026, 11, 28, tzinfo=timezone.utc)
    with session(engine) as s:
        supplier = queries.supplier_for(s, "sales@supplier.test")
        order = PurchaseOrder(ref="PO-1", customer="A", supplier_id=supplier.id, currency="EUR", created_at=now)
        s.add(order)
        s.flush()
        ids = [queries.add_outbox(s, {"message_id": f"<{n}@bot.test>", "order_id": order.id, "purpose": "comment",
                                      "recipients": "sales@supplier.test", "subject": "s", "created_at": now,
                                      "raw": b"r"}) for n in range(2)]
        document = queries.add_document(s, sha256="ab" * 32, filename="bill.pdf", content_type="application/pdf",
                                        size=1, kind="scan", order_id=order.id, revision_id=None, inbound_id=None,
                                        created_at=now)
        s.commit()
    assert ids[1] == ids[0] + 1 and document.id is not None
    assert not [statement for statement in sent if "RETURNING" in statement.upper()]
