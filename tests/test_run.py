"""`supplierbot run` as a real process: it polls on its schedule and sends without being asked."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.conftest import World


def test_run_polls_and_sends_on_its_schedule(world: World) -> None:
    text = world.config_path.read_text().replace('customer_name = "ACME GmbH"',
                                                 'customer_name = "ACME GmbH"\npoll_interval_seconds = 1')
    world.config_path.write_text(text)
    ref = world.order()
    bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(world.config_path), "run"],
                           env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        new_order = world.supplier.wait_for(f"[{ref}] New order", timeout=15)
        world.supplier.reply(new_order, "When do you need the bolts?")
        assert "When do you need the bolts?" in world.buyer.wait_for("Message from", timeout=15).text
    finally:
        bot.send_signal(signal.SIGINT)
        try:
            bot.wait(timeout=10)
        except subprocess.TimeoutExpired:
            bot.kill()
            raise
