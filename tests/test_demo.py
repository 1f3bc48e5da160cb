"""bot.demo: the emails it keeps are the emails of the exchange, as sent and as read."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.app import build_app, utc_now
from bot.config import parse_config
from bot.demo import _keep_every_email
from storage.db import session
from storage.models import OutboxMessage



def test_an_email_written_to_a_file_is_kept_as_the_email_not_the_rows_pointer(tmp_path: Path) -> None:
    config = parse_config({"bot": {"address": "bot@example.test", "customer_name": "ACME"},
                           "imap": {"host": "127.0.0.1"}, "smtp": {"host": "127.0.0.1"}}, tmp_path)
    app = build_app(config)
    small = b"From: bot@example.test\r\nSubject: [PO-1] New order\r\n\r\nhello\r\n"
    large = b"From: bot@example.test\r\nSubject: [PO-1] Bill rev 1 for approval\r\n\r\n" + b"A" * 100_000 + b"\r\n"
    now = utc_now()
    with session(app.engine) as s:
        s.add(OutboxMessage(message_id="<1@example.test>", purpose="new_order", recipients="sales@supplier.test",
                            subject="New order", raw=small, created_at=now))
        s.add(OutboxMessage(message_id="<2@example.test>", purpose="approval_request",
                            recipients="anna@example.test", subject="Bill rev 1", created_at=now + timedelta(1),
                            raw=app.files.spill([large[:50], large[50:]], "outbox")))
        s.commit()
    folder = tmp_path / "mail"
    folder.mkdir()
    assert _keep_every_email(app, folder, lambda _: None) == 2
    assert [p.read_bytes() for p in sorted(folder.glob("*.eml"))] == [small, large]
