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


def test_run_reconnects_idle_after_the_connection_drops(world: World) -> None:
    from tests.tcpproxy import CuttingProxy

    proxy = CuttingProxy(world.supplier.imap_port)
    world.config_path.write_text(world.config_path.read_text().replace(
        f"port = {world.supplier.imap_port}", f"port = {proxy.port}"))
    world.reconfigure(bot={"poll_interval_seconds": 600})
    ref = world.order()
    bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(world.config_path), "run"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        new_order = world.supplier.wait_for(f"[{ref}] New order", timeout=15)
        time.sleep(1.5)  # the watcher is in IDLE now
        proxy.cut_all()
        assert proxy.cuts >= 1
        time.sleep(0.5)
        world.supplier.reply(new_order, "Still there?")
        started = time.monotonic()
        assert "Still there?" in world.buyer.wait_for("Question from", timeout=15).text
        assert time.monotonic() - started < 6  # IDLE again after a 1 s backoff, not the 10-minute poll
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=15)
        proxy.close()
    assert bot.returncode == 0
