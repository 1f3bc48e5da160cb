"""Where the time of a sheet reply goes: the bot's path profiled in-process.

    python -m bench.profile --orders 300 [--top 25] [--sort tottime]

Fills the mailbox as bench.throughput does (one supplier reply with a filled 20-row
xlsx per order), then runs the three stages of a poll one after the other under
cProfile: fetching into the queue, applying the queued messages, sending the answers.
Prints milliseconds a message per stage and the functions that cost the most.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import time

from bench.throughput import filled
from bot.outbox import send_outbox
from bot.runner import PollReport, fetch_and_process
from bot.workers import Worker, release_fetcher_lease


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    parser.add_argument("--postgres", default="", help="a PostgreSQL server's URL (a database is made on it)")
    parser.add_argument("--no-profile", action="store_true", help="time the stages only")
    args = parser.parse_args()
    with filled(args.orders, args.postgres) as (_, app):
        worker = Worker(app)
        stages: dict[str, float] = {}
        profiles: dict[str, cProfile.Profile] = {}
        for name, stage in (("fetch", lambda: fetch_and_process(app, PollReport(), worker.owner)),
                            ("apply", worker.drain),
                            ("send", lambda: asyncio.run(send_outbox(app)))):
            profile = cProfile.Profile()
            started = time.perf_counter()
            stage() if args.no_profile else profile.runcall(stage)
            stages[name] = time.perf_counter() - started
            profiles[name] = profile
        release_fetcher_lease(app, worker.owner)
    n = args.orders
    if args.no_profile:
        print("ms a message: " + ", ".join(f"{k} {v * 1000 / n:.2f}" for k, v in stages.items()))
        return
    print("ms a message (under the profiler): " + ", ".join(f"{k} {v * 1000 / n:.2f}" for k, v in stages.items()))
    for name in ("fetch", "apply", "send"):
        out = io.StringIO()
        pstats.Stats(profiles[name], stream=out).sort_stats(args.sort).print_stats(args.top)
        print(f"\n== {name} ==")
        print("\n".join(line for line in out.getvalue().splitlines()[4:] if line.strip()))


if __name__ == "__main__":
    main()
