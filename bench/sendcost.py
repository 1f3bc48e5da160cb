"""What sending an answer costs the bot, against SMTP alone, measured side by side in one run.

    python -m bench.sendcost --orders 300 --reps 5

Sets up the answers as bench.profile does (one supplier reply with a filled sheet per
order, fetched and applied), then, `--reps` times in turn:
  bot        — `send_outbox` on every answer (the rows are queued again before each rep);
  smtp       — the same bytes with aiosmtplib alone over the same number of connections
               (bench.throughput.send_limit);
  smtp+copy  — the same, with the bot's own address as an extra recipient (the copy each
               bot send carries), what the mail system must do for the bot's sends.
Prints the median ms an answer of each, and the ratio bot / smtp. Also times
`compose_chunks` on the answers' mails (--compose).
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlmodel import select, update

from bench.killtest import BOT, write_config
from bench.throughput import _sqlite, create_orders, fill, replies, send_limit
from bot.app import build_app
from bot.config import load_config
from bot.devmail import LocalMailServer
from bot.outbox import send_outbox
from bot.runner import PollReport, fetch_and_process
from bot.workers import Worker, release_fetcher_lease
from storage.db import session
from storage.models import OutboxMessage, OutboxStatus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print the profile of the last bot send")
    args = parser.parse_args()
    with LocalMailServer() as server, tempfile.TemporaryDirectory() as folder, _sqlite() as url:
        config = write_config(Path(folder), server)
        config.write_text(config.read_text().replace('"sqlite:///bot.db"', f'"{url}"'))
        app = build_app(load_config(config))
        print(f"setting up {args.orders} orders and replies …", file=sys.stderr)
        fill(server, replies(create_orders(app, args.orders)))
        worker = Worker(app)
        fetch_and_process(app, PollReport(), worker.owner)
        worker.drain()
        release_fetcher_lease(app, worker.owner)
        with session(app.engine) as s:
            rows = s.exec(select(OutboxMessage).where(OutboxMessage.purpose != "new_order")).all()
            ids = [r.id for r in rows]
            answers = [(r.recipients.split(","), r.raw) for r in rows]
        with_copy = [([*to, BOT], raw) for to, raw in answers]
        n = len(answers)
        times: dict[str, list[float]] = {"bot": [], "smtp": [], "smtp+copy": []}
        for rep in range(args.reps):
            with session(app.engine) as s:
                s.exec(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(
                    status=OutboxStatus.QUEUED, sent_at=None, attempts=0, claimed_by="", claimed_until=None,
                    next_attempt_at=None))
                s.commit()
            profile = cProfile.Profile()
            started = time.perf_counter()
            report = profile.runcall(asyncio.run, send_outbox(app)) if args.profile else asyncio.run(send_outbox(app))
            times["bot"].append(time.perf_counter() - started)
            assert report.sent == n, report
            times["smtp"].append(send_limit(app, answers))
            times["smtp+copy"].append(send_limit(app, with_copy))
            print(f"rep {rep + 1}: " + ", ".join(f"{k} {v[-1] * 1000 / n:.2f}" for k, v in times.items()),
                  file=sys.stderr)
        app.engine.dispose()
    if args.profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
    median = {k: statistics.median(v) * 1000 / n for k, v in times.items()}
    print(f"{n} answers, {app.config.smtp.connections} connections, median of {args.reps}: ms an answer "
          + ", ".join(f"{k} {v:.2f}" for k, v in median.items())
          + f"; bot/smtp {median['bot'] / median['smtp']:.2f}×, bot/smtp+copy {median['bot'] / median['smtp+copy']:.2f}×")


if __name__ == "__main__":
    main()
