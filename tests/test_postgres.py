"""The same protocol tests with PostgreSQL as the store (the store for several bot processes).

.ci/run starts a real server and sets SUPPLIERBOT_TEST_POSTGRES_URL; each test
gets a database of its own.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.throughput import scratch_database as bench_scratch_database
from bot.devmail import PASSWORD, LocalMailServer
from tests import test_round_trip as protocol
from tests.conftest import World, make_world

URL = os.environ.get("SUPPLIERBOT_TEST_POSTGRES_URL", "")


@contextmanager
def scratch_database() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards (skips without a server)."""
    if not URL:
        pytest.skip("SUPPLIERBOT_TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL server and sets it)")
    with bench_scratch_database(URL) as url:
        yield url


@pytest.fixture
def pg_world(mail_server: LocalMailServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("TEST_IMAP_PASSWORD", PASSWORD)
    with scratch_database() as url:
        world = make_world(mail_server, tmp_path, url)
        yield world
        world.app.engine.dispose()


@pytest.mark.parametrize("scenario", [
    protocol.test_full_loop_from_order_to_approval,
    protocol.test_polling_twice_changes_nothing_and_sends_nothing_twice,
    protocol.test_a_repeated_approve_is_answered_not_applied,
    protocol.test_the_email_of_revision_1_cannot_decide_revision_2,
], ids=lambda f: f.__name__.removeprefix("test_"))
def test_protocol_on_postgresql(pg_world: World, scenario: Callable[[World], None]) -> None:
    scenario(pg_world)
