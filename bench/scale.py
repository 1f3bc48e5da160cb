"""Scale: read commands on a database of 100,000 orders with their revisions and events.

    python -m bench.scale --orders 100000

Builds the database with bulk inserts (3 order lines, one submitted revision
with 3 lines and 6 events per order), then times the work behind
`supplierbot orders --json` (first, middle and last page of 100) and
`supplierbot order show REF --json` (median of 50 random orders) and
`supplierbot status --json`, in process,
without Python's start-up.
"""
from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

from bot.views import order_detail, order_summary, status
from storage import queries
from storage.db import make_engine, session
from storage.models import (Buyer, Event, OrderBuyer, OrderLine, PurchaseOrder, Revision, RevisionLine,
                            RevisionStatus, Supplier)

NOW = datetime(2026, 11, 28, tzinfo=timezone.utc)
CHUNK = 5000


def build(url: str, orders: int) -> None:
    engine = make_engine(url)
    with session(engine) as s:
        s.execute(insert(Supplier), [{"id": n, "email": f"s{n}@supplier.test", "name": f"S{n}"} for n in range(1, 501)])
        s.execute(insert(Buyer), [{"id": n, "email": f"b{n}@example.test", "name": f"B{n}"} for n in range(1, 51)])
        for start in range(1, orders + 1, CHUNK):
            _chunk(s, range(start, min(start + CHUNK, orders + 1)))
        s.commit()
    engine.dispose()


def _chunk(s, ids: range) -> None:
    line = {"sku": "SKU", "description": "Part", "quantity": Decimal(5), "unit": "pcs",
            "unit_price": Decimal("1.50"), "tax_rate": Decimal(19)}
    s.execute(insert(PurchaseOrder), [{"id": i, "ref": f"PO-2026-{i:06d}", "customer": "ACME", "currency": "EUR",
                                       "supplier_id": i % 500 + 1, "status": "awaiting_approval",
                                       "created_at": NOW} for i in ids])
    s.execute(insert(OrderBuyer), [{"order_id": i, "buyer_id": i % 50 + 1} for i in ids])
    s.execute(insert(OrderLine), [{"order_id": i, "position": p, **line} for i in ids for p in (1, 2, 3)])
    s.execute(insert(Revision), [{"id": i, "order_id": i, "number": 1, "status": RevisionStatus.SUBMITTED,
                                  "created_at": NOW, "submitted_at": NOW} for i in ids])
    s.execute(insert(RevisionLine), [{"revision_id": i, "position": p, **line} for i in ids for p in (1, 2, 3)])
    s.execute(insert(Event), [{"order_id": i, "at": NOW, "actor": "bot", "kind": f"k{k}", "detail": "x"}
                              for i in ids for k in range(6)])


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'scale.db'}"
        started = time.perf_counter()
        build(url, args.orders)
        print(f"built {args.orders:,} orders in {time.perf_counter() - started:.0f} s")
        engine = make_engine(url)
        with session(engine) as s:
            for name, offset in (("first", 0), ("middle", args.orders // 2), ("last", args.orders - 100)):
                ms = timed(lambda: [order_summary(s, o) for o in queries.all_orders(s, 100, offset)])
                print(f"orders --json, {name} page of 100: {ms:.0f} ms")
            ms = timed(lambda: status(s))
            print(f"status --json (500 suppliers, 50 buyers): {ms:.0f} ms")
            refs = [f"PO-2026-{random.Random(n).randint(1, args.orders):06d}" for n in range(50)]
            shows = [timed(lambda ref=ref: order_detail(s, queries.order_by_ref(s, ref))) for ref in refs]
            print(f"order show --json: median {statistics.median(shows):.1f} ms, max {max(shows):.1f} ms "
                  f"(target < 100 ms)")


if __name__ == "__main__":
    main()
