"""compose_chunks against the compat32 classes it replaced, on a typical answer.

    python -m bench.compose_speed [--n 2000]

A draft-received answer: German subject (RFC 2047), text and HTML, a thread of 20
references, a 20 KB xlsx attached. Prints µs an email for each, medians of 5 runs.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import datetime, timezone

from bot.compose import Outgoing, _legacy_chunks, compose_chunks
from parsers.records import Attachment


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    n = parser.parse_args().n
    mail = Outgoing("draft_received", ("sales@supplier.test",), "[PO-2026-0042] Rechnung erhalten — EUR 1.234,50",
                    "Danke für Ihre Rechnung.\n" * 80, "<p>Danke für Ihre Rechnung.</p>\n" * 200,
                    reply_to="reply+abcdef@example.test", in_reply_to="<r@supplier.test>",
                    references=tuple(f"<{i}.abcdef@supplier.test>" for i in range(25)),
                    attachments=(Attachment("bill.xlsx", "application/vnd.ms-excel", os.urandom(20_000)),))
    now = datetime.now(timezone.utc)
    results = {}
    for name, make in (("compat32 classes", _legacy_chunks), ("compose_chunks", compose_chunks)) * 1:
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(n):
                b"".join(make(mail, "bot@example.test", "ACME purchasing", "<m@example.test>", now))
            runs.append((time.perf_counter() - started) / n * 1e6)
        results[name] = statistics.median(runs)
        print(f"{name}: {results[name]:.0f} µs an email")
    print(f"speed-up {results['compat32 classes'] / results['compose_chunks']:.1f}×")


if __name__ == "__main__":
    main()
