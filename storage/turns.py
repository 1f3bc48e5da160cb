"""SQLite's one writer, taken in turns by this process's threads.

Every SQLite transaction of the bot begins IMMEDIATE (storage/db.py): it takes the database's
write lock up front. Between processes SQLite's busy handler arbitrates, by sleeping and retrying.
Between the threads of one process that is unfair: a worker that commits and begins again at
once keeps the lock, and the sender, the poller or a scheduled job, sleeping in the busy
handler, miss every gap between its transactions and wait until the worker runs out of work.
So the threads of a process queue for the lock here, first come first served, and the lock is
handed from the thread that commits to the thread that waited longest.

A read-only connection (execution option `readonly=True`) begins a deferred transaction and
takes no turn: under WAL a reader sees the last commit and never waits for a writer.
"""
from __future__ import annotations

import threading
from collections import deque

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

#: as long as SQLite's own busy timeout: after it, the transaction goes to SQLite without a turn
TURN_SECONDS = 30.0
_HOLDS = "supplierbot_turn"


class Turns:
    """A first-come-first-served lock with hand-over: `release` gives it to the oldest waiter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Event] = deque()

    def acquire(self, timeout: float = TURN_SECONDS) -> bool:
        with self._lock:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            self._waiting.append(turn)
        try:
            given = turn.wait(timeout)
        except BaseException:  # interrupted (KeyboardInterrupt): never leave a turn to nobody
            self._give_up(turn, handed_back=True)
            raise
        return given or self._give_up(turn)

    def _give_up(self, turn: threading.Event, handed_back: bool = False) -> bool:
        """Leave the queue; True if the turn was handed over meanwhile (and kept, unless `handed_back`)."""
        with self._lock:
            if not turn.is_set():
                self._waiting.remove(turn)
                return False
        if handed_back:
            self.release()
        return True

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # still held: by the waiter now
            else:
                self._held = False


def take_turns(engine: Engine, begin_sql: str = "BEGIN IMMEDIATE") -> Turns:
    """Make `engine`'s transactions begin with `begin_sql` after waiting for this process's turn
    (read-only connections begin deferred, without one); the turn passes on at commit or rollback,
    or when a connection goes back to the pool still holding it."""
    turns = Turns()

    def begin(connection: Connection) -> None:
        if connection.get_execution_options().get("readonly"):
            connection.exec_driver_sql("BEGIN")
            return
        held = turns.acquire()
        connection.info[_HOLDS] = held
        try:
            connection.exec_driver_sql(begin_sql)
        except BaseException:
            _pass_on(connection.info)
            raise

    def _pass_on(info: dict) -> None:
        if info.pop(_HOLDS, False):
            turns.release()

    # The turn passes on once the COMMIT is made: SQLAlchemy's commit event comes before it, and
    # the next writer's BEGIN IMMEDIATE would find the lock still held. So the dialect's own
    # commit is wrapped; a COMMIT that fails raises as SQLAlchemy's error, and the turn passes on
    # at the rollback that follows (or when the connection goes back to the pool).
    do_commit = engine.dialect.do_commit

    def commit(dbapi_connection) -> None:
        do_commit(dbapi_connection)
        _pass_on(dbapi_connection.info)

    engine.dialect.do_commit = commit  # this engine's own dialect object
    event.listen(engine, "begin", begin)
    event.listen(engine, "rollback", lambda connection: _pass_on(connection.info))
    # a connection given back (closed, invalidated) with its transaction never ended by SQLAlchemy
    event.listen(engine.pool, "checkin", lambda dbapi_connection, record: _pass_on(record.info) if record else None)
    return turns
