"""What sending an answer costs the bot, against SMTP alone, measured side by side in one run.

    python -m bench.sendcost --orders 300 --reps 5

Sets up the answers as bench.profile does (one supplier reply with a filled sheet per
order, fetched and applied), then, `--reps` times in turn:
  bot        — `send_outbox` on every answer (the rows are queued again before each rep);
  smtp       — the same bytes with aiosmtplib alone over the same number of connections
               (bench.throughput.send_limit);
  smtp+copy  — the same, with the bot's own address as an extra recipient (the copy each
               bot send carries), what the mail system must do for the bot's sends.
  kept       — (--kept) a `Sender` kept across reps in one asyncio.Runner: connections stay open.
  base       — (--base bot/outbox.py of another checkout) that send_outbox, for a before/after
               in the same run.
Prints the median ms an answer of each, and the ratio bot / smtp.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import cProfile
import pstats
import statistics
import sys
import time

from sqlmodel import select, update

from bench.killtest import BOT
from bench.throughput import filled, send_limit
from bot.outbox import Sender, send_outbox
from bot.runner import PollReport, fetch_and_process
from bot.workers import Worker, release_fetcher_lease
from storage.db import session
from storage.models import OutboxMessage, OutboxStatus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print the profile of the last bot send")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--kept", action="store_true", help="also send with a Sender kept across reps")
    parser.add_argument("--base", default="", help="an older bot/outbox.py whose send_outbox is timed too")
    args = parser.parse_args()
    with filled(args.orders) as (_, app):
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
        base = _load_base(args.base) if args.base else None
        runner = asyncio.Runner() if args.kept else None
        kept = Sender(app) if args.kept else None
        if kept is not None:
            _queue_again(app, ids)
            runner.run(kept.send())  # opens the connections it keeps
        for rep in range(args.reps):
            if base is not None:
                _queue_again(app, ids)
                started = time.perf_counter()
                assert asyncio.run(base.send_outbox(app)).sent == n
                times.setdefault("base", []).append(time.perf_counter() - started)
            if kept is not None:
                _queue_again(app, ids)
                started = time.perf_counter()
                assert runner.run(kept.send()).sent == n
                times.setdefault("kept", []).append(time.perf_counter() - started)
            _queue_again(app, ids)
            profile = cProfile.Profile()
            started = time.perf_counter()
            report = profile.runcall(asyncio.run, send_outbox(app)) if args.profile else asyncio.run(send_outbox(app))
            times["bot"].append(time.perf_counter() - started)
            assert report.sent == n, report
            times["smtp"].append(send_limit(app, answers))
            times["smtp+copy"].append(send_limit(app, with_copy))
            print(f"rep {rep + 1}: " + ", ".join(f"{k} {v[-1] * 1000 / n:.2f}" for k, v in times.items()),
                  file=sys.stderr)
        if kept is not None:
            runner.run(kept.close())
            runner.close()
    if args.profile:
        pstats.Stats(profile).sort_stats(args.sort).print_stats(40)
    median = {k: statistics.median(v) * 1000 / n for k, v in times.items()}
    print(f"{n} answers, {app.config.smtp.connections} connections, median of {args.reps}: ms an answer "
          + ", ".join(f"{k} {v:.2f}" for k, v in median.items())
          + "; " + ", ".join(f"{k}/smtp {median[k] / median['smtp']:.2f}×, {k}/smtp+copy "
                             f"{median[k] / median['smtp+copy']:.2f}×" for k in ("base", "bot", "kept") if k in median))


def _queue_again(app, ids: list[int]) -> None:
    with session(app.engine) as s:
        s.exec(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(
            status=OutboxStatus.QUEUED, sent_at=None, attempts=0, claimed_by="", claimed_until=None,
            next_attempt_at=None))
        s.commit()


def _load_base(path: str):
    spec = importlib.util.spec_from_file_location("bench_base_outbox", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    main()
