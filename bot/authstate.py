"""Login refusals remembered per server across runs, so wrong credentials are retried after
minutes (doubling, capped), not every poll: providers lock a mailbox after a burst of failures.

Kept in a small JSON file in the data folder: `poll --once` from cron is a new process each time.
A change of the credentials in the config (their fingerprint) ends the wait at once.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger("supplierbot.auth")
FIRST_WAIT = 60.0
LONGEST_WAIT = 3600.0


@dataclass(frozen=True)
class Refusal:
    server: str  # "imap" or "smtp"
    fingerprint: str
    reason: str
    failures: int
    since: float
    retry_at: float

    def describe(self) -> str:
        at = datetime.fromtimestamp(self.retry_at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        return (f"{self.server.upper()} login refused {self.failures} time(s): {self.reason}; "
                f"next try at {at} (or at once when {self.server} credentials change)")


def fingerprint(*parts: str) -> str:
    """Enough to notice the credentials changed; far too short to say anything about them."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]


class AuthBackoff:
    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path, self.clock = path, clock

    def waiting(self, server: str, current: str) -> Refusal | None:
        """The refusal still being waited out, if the credentials are the ones refused."""
        refusal = self._load().get(server)
        if refusal is None or refusal.fingerprint != current or self.clock() >= refusal.retry_at:
            return None
        return refusal

    def refused(self, server: str, current: str, reason: str) -> Refusal:
        """Record a refusal; logged as an error only when it starts or its reason changes."""
        known = self._load()
        before = known.get(server)
        again = before is not None and before.fingerprint == current
        failures = before.failures + 1 if again and before else 1
        wait = min(FIRST_WAIT * 2 ** (failures - 1), LONGEST_WAIT)
        now = self.clock()
        refusal = Refusal(server, current, reason, failures, before.since if again and before else now, now + wait)
        known[server] = refusal
        self._save(known)
        if not again or before is None or before.reason != reason:
            log.error("login refused; waiting before trying again",
                      extra={"server": server, "reason": reason, "retry_in_s": int(wait)})
        return refusal

    def accepted(self, server: str) -> None:
        known = self._load()
        if known.pop(server, None) is not None:
            self._save(known)
            log.warning("login accepted again", extra={"server": server})

    def all(self) -> list[Refusal]:
        return sorted(self._load().values(), key=lambda r: r.server)

    def _load(self) -> dict[str, Refusal]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {name: Refusal(**values) for name, values in data.items()}
        except (OSError, ValueError, TypeError):
            return {}

    def _save(self, known: dict[str, Refusal]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        temporary.write_text(json.dumps({k: asdict(v) for k, v in known.items()}, indent=1), encoding="utf-8")
        os.replace(temporary, self.path)
