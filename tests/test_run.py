"""`supplierbot run` as a real process: IDLE wakes it on new mail; SIGTERM stops it cleanly."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import World


def test_run_answers_new_mail_at_once_through_idle(world: World) -> None:
    # the scheduled poll runs at start, then only every 10 minutes: a quick answer means IDLE
    world.reconfigure(bot={"poll_interval_seconds": 600})
    ref = world.order()
    bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(world.config_path), "run"],
                           env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        new_order = world.supplier.wait_for(f"[{ref}] New order", timeout=15)
        world.supplier.reply(new_order, "When do you need the bolts?")
        started = time.monotonic()
        assert "When do you need the bolts?" in world.buyer.wait_for("Question from", timeout=15).text
        assert time.monotonic() - started < 5
    finally:
        bot.send_signal(signal.SIGTERM)
        try:
            bot.wait(timeout=10)
        except subprocess.TimeoutExpired:
            bot.kill()
            raise
    assert bot.returncode == 0, bot.stderr.read().decode() if bot.stderr else ""
