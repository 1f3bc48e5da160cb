"""IMAP adapter: read new messages by UID without touching flags (BODY.PEEK, read-only select)."""
from __future__ import annotations

import ssl
from collections.abc import Iterator
from types import TracebackType

from imapclient import DELETED, IMAPClient

from bot.config import ServerSettings

FETCH_BATCH = 100


class MailboxError(Exception):
    """The mail server could not be reached or refused us; retried on the next poll."""


class ImapMailbox:
    """One connection, one selected folder; a context manager."""

    def __init__(self, settings: ServerSettings, readonly: bool = True) -> None:
        self.settings, self.readonly = settings, readonly
        self.client: IMAPClient | None = None
        self.uidvalidity = 0

    def __enter__(self) -> ImapMailbox:
        s = self.settings
        try:
            self.client = IMAPClient(s.host, port=s.port, ssl=s.security == "ssl", timeout=s.timeout_seconds,
                                     ssl_context=ssl.create_default_context())
            if s.security == "starttls":
                self.client.starttls(ssl.create_default_context())
            self.client.login(s.username, s.password)
            # read-only unless we move mail: a poll never changes \Seen or anything a person sees
            info = self.client.select_folder(s.folder, readonly=self.readonly)
        except (OSError, IMAPClient.Error) as exc:
            self._close()
            raise MailboxError(f"IMAP {s.host}:{s.port}: {exc}") from exc
        self.uidvalidity = int(info[b"UIDVALIDITY"])
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._close()

    def _close(self) -> None:
        if self.client is not None:
            try:
                self.client.logout()
            except (OSError, IMAPClient.Error):
                pass
            self.client = None

    def uids_after(self, last_uid: int) -> list[int]:
        assert self.client is not None
        # "N:*" always matches the highest UID, even below N: filter it out.
        return sorted(uid for uid in self.client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)

    def fetch(self, uids: list[int]) -> Iterator[tuple[int, bytes]]:
        assert self.client is not None
        for start in range(0, len(uids), FETCH_BATCH):
            batch = uids[start:start + FETCH_BATCH]
            data = self.client.fetch(batch, ["BODY.PEEK[]"])
            for uid in batch:
                if uid in data and b"BODY[]" in data[uid]:
                    yield uid, bytes(data[uid][b"BODY[]"])

    def move(self, uids: list[int], folder: str) -> None:
        """Move messages out of the selected folder (nothing is removed before it is copied)."""
        assert self.client is not None and not self.readonly
        if not self.client.folder_exists(folder):
            self.client.create_folder(folder)
        capabilities = self.client.capabilities()
        if b"MOVE" in capabilities:
            self.client.move(uids, folder)
            return
        # Microsoft 365 and older servers: copy, flag, and expunge only these UIDs
        self.client.copy(uids, folder)
        self.client.add_flags(uids, [DELETED])
        if b"UIDPLUS" in capabilities:
            self.client.uid_expunge(uids)
