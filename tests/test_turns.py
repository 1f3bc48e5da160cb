"""SQLite's writer in turns: the threads of one process queue for it, first come first served."""
from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import make_engine
from storage.turns import Turns


def test_a_released_turn_goes_to_the_oldest_waiter_not_back_to_the_releaser() -> None:
    turns, order = Turns(), []
    assert turns.acquire()
    waiting = threading.Thread(target=lambda: (turns.acquire(), order.append("waiter"), turns.release()))
    waiting.start()
    time.sleep(0.05)  # the waiter is queued
    turns.release()
    assert turns.acquire(timeout=5)  # the releaser comes straight back: it must queue behind the waiter
    order.append("releaser")
    turns.release()
    waiting.join(5)
    assert order == ["waiter", "releaser"]


def test_a_turn_not_given_in_time_is_not_taken_later() -> None:
    turns = Turns()
    assert turns.acquire()
    assert not turns.acquire(timeout=0.05)
    turns.release()  # nobody waits any more: free again
    assert turns.acquire(timeout=0.05)


def test_a_worker_committing_back_to_back_lets_another_thread_write_between(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (who TEXT)"))
    stop = threading.Event()

    def busy_worker() -> None:  # one long transaction after another, as a worker under load
        while not stop.is_set():
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO t VALUES ('worker')"))
                time.sleep(0.05)

    worker = threading.Thread(target=busy_worker)
    worker.start()
    try:
        time.sleep(0.1)
        started = time.monotonic()
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES ('sender')"))
        waited = time.monotonic() - started
    finally:
        stop.set()
        worker.join(5)
    assert waited < 0.5  # one worker transaction at most (without turns: until the worker stops)


def test_a_reader_does_not_wait_for_the_writer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
    with engine.begin() as writer:
        writer.execute(text("INSERT INTO t VALUES (2)"))
        started = time.monotonic()
        with engine.connect().execution_options(readonly=True) as reader:
            assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 1  # the last commit
        assert time.monotonic() - started < 1


def test_a_connection_given_back_without_an_end_passes_its_turn_on(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    connection = engine.connect()
    connection.execute(text("SELECT 1"))  # begun: holds the turn
    connection.invalidate()  # its DBAPI connection dropped without commit or rollback
    del connection
    started = time.monotonic()
    with engine.begin() as other:
        other.execute(text("SELECT 1"))
    assert time.monotonic() - started < 1


def test_an_interrupted_wait_leaves_no_turn_to_nobody() -> None:
    turns = Turns()
    assert turns.acquire()
    interrupted = threading.Thread(target=_interrupted_acquire, args=(turns,))
    interrupted.start()
    interrupted.join(5)
    turns.release()
    assert turns.acquire(timeout=0.1)  # free: not handed to the thread that gave up


def _interrupted_acquire(turns: Turns) -> None:
    import unittest.mock

    with unittest.mock.patch.object(threading.Event, "wait", side_effect=KeyboardInterrupt):
        try:
            turns.acquire()
        except KeyboardInterrupt:
            pass


class _SlowCommit(sqlite3.Connection):
    """A COMMIT that takes 0.3 s (a slow disk's fsync) in one thread."""

    thread: threading.Thread | None = None

    def commit(self) -> None:
        if threading.current_thread() is _SlowCommit.thread and self.in_transaction:
            time.sleep(0.3)
        super().commit()


def _engine(path: Path, factory: type[sqlite3.Connection]):
    """A SQLite engine as storage/db.py makes it, on connections of `factory`."""
    from sqlalchemy import create_engine, event

    from storage.db import SQLITE_BEGIN, _sqlite_pragmas
    from storage.turns import take_turns

    engine = create_engine(f"sqlite:///{path}", connect_args={"factory": factory})
    event.listen(engine, "connect", _sqlite_pragmas)
    take_turns(engine, SQLITE_BEGIN)
    return engine


def test_the_turn_passes_on_after_the_commit_is_made_not_before(tmp_path: Path) -> None:
    # SQLAlchemy's commit event comes before its COMMIT: a turn handed on there sent the next
    # writer into SQLite's busy handler for as long as the COMMIT took. The second writer here
    # gives up after 50 ms in the busy handler, less than the first one's COMMIT takes.
    from sqlalchemy.exc import OperationalError

    engine = _engine(tmp_path / "turns.db", _SlowCommit)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (who TEXT)"))
    in_transaction = threading.Event()

    def first_writer() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES ('first')"))
            in_transaction.set()
            time.sleep(0.1)  # the second thread queues for the turn meanwhile

    first = _SlowCommit.thread = threading.Thread(target=first_writer)
    first.start()
    assert in_transaction.wait(5)
    connection = engine.connect()
    connection.connection.dbapi_connection.execute("PRAGMA busy_timeout = 50")  # type: ignore[union-attr]
    try:
        with connection.begin():
            connection.execute(text("INSERT INTO t VALUES ('second')"))
    except OperationalError as exc:
        raise AssertionError(f"the second writer met the first one's lock: {exc}") from exc
    finally:
        connection.close()
        first.join(10)
    with engine.connect() as connection:
        assert sorted(r[0] for r in connection.execute(text("SELECT who FROM t"))) == ["first", "second"]


class _FullAtCommit(sqlite3.Connection):
    """A disk that fills up at COMMIT: SQLite rolls the transaction back and says so."""

    fail = 0

    def commit(self) -> None:
        if _FullAtCommit.fail and self.in_transaction:
            _FullAtCommit.fail -= 1
            self.execute("ROLLBACK")
            raise sqlite3.OperationalError("database or disk is full")
        super().commit()


def test_a_commit_that_fails_raises_and_passes_the_turn_on(tmp_path: Path) -> None:
    from sqlalchemy.exc import OperationalError

    engine = _engine(tmp_path / "full.db", _FullAtCommit)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    _FullAtCommit.fail = 1
    with pytest.raises(OperationalError, match="disk is full"):
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
    with engine.begin() as connection:  # the turn was passed on: this does not wait 30 s
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 0
        connection.execute(text("INSERT INTO t VALUES (2)"))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT x FROM t")).scalars().all() == [2]
