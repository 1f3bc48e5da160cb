"""IMAP adapter: read new messages by UID without touching flags (BODY.PEEK, read-only select)."""
from __future__ import annotations

import hashlib
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType

from imapclient import DELETED, IMAPClient

from bot.config import ServerSettings
from bot.login import LoginFailed, connect_imap, imap_login
from storage.files import FileStore, RawMessage

FETCH_BATCH = 100
FETCH_BATCH_BYTES = 8 * 1024 * 1024
#: a larger message is fetched alone, this many bytes at a time (BODY.PEEK[]<offset.length>),
#: straight to its file: the bot never holds a large message whole
FETCH_PIECE = 1024 * 1024
IDLE_CHECK_SECONDS = 1.0  # a batch of big messages is fetched in smaller pieces
#: an IDLE connection that lived this long was healthy: after it drops, reconnect at once again
STABLE_SECONDS = 60.0
log = logging.getLogger("supplierbot.mailbox")


class MailboxError(Exception):
    """The mail server could not be reached or refused us; retried on the next poll."""


class _Short(Exception):
    """A message's pieces ended before its RFC822.SIZE: never a message, whatever came."""

    def __init__(self, seen: tuple[int, str]) -> None:
        super().__init__(seen)
        self.seen = seen  # (length, sha256) of what came


def server_folder_name(name: str, prefix: str, delimiter: str | None) -> str:
    """A configured folder name ("/" between levels, as in every mail client) as this server
    spells it: its own hierarchy delimiter, under its personal namespace prefix.

    Dovecot with maildir uses "." and refuses "/"; Courier and Cyrus keep folders under
    "INBOX."; Gmail uses "/". INBOX is INBOX everywhere.
    """
    if name.upper() == "INBOX":
        return "INBOX"
    server = delimiter.join(name.split("/")) if delimiter else name
    inbox_child = delimiter is not None and server.upper().startswith("INBOX" + delimiter)
    if prefix and not inbox_child and not server.startswith(prefix):
        server = prefix + server
    return server


def personal_namespace(client: IMAPClient) -> tuple[str, str | None]:
    """(prefix, delimiter) of the personal namespace (NAMESPACE, or LIST "" "" where it has none)."""
    if b"NAMESPACE" in client.capabilities():
        personal = client.namespace().personal or (("", None),)
        prefix, delimiter = personal[0]
    else:
        listed = client.list_folders("", "")
        prefix, delimiter = "", listed[0][1] if listed else None
    if isinstance(delimiter, bytes):
        delimiter = delimiter.decode()
    return prefix or "", delimiter or None


class ImapMailbox:
    """One connection, one selected folder; a context manager."""

    def __init__(self, settings: ServerSettings, readonly: bool = True) -> None:
        self.settings, self.readonly = settings, readonly
        self.client: IMAPClient | None = None
        self.uidvalidity = 0
        self._namespace: tuple[str, str | None] | None = None

    def __enter__(self) -> ImapMailbox:
        s = self.settings
        try:
            s.login.check_backoff()  # before connecting: a refused login is not retried every poll
            self.client = connect_imap(s.host, s.port, s.security, s.timeout_seconds, s.login)
            imap_login(self.client, s.login, s.host, s.port)
            # read-only unless we move mail: a poll never changes \Seen or anything a person sees
            info = self.client.select_folder(self.folder_name(s.folder), readonly=self.readonly)
        except LoginFailed as exc:
            self._close()
            raise MailboxError(str(exc)) from exc
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

    def senders(self, uids: list[int]) -> dict[int, bytes]:
        """Each message's From header as the server holds it (BODY.PEEK: nothing is marked), a
        round trip per FETCH_BATCH messages: enough to pass the bot's own copies without their bodies."""
        assert self.client is not None
        found: dict[int, bytes] = {}
        for start in range(0, len(uids), FETCH_BATCH):
            data = self.client.fetch(uids[start:start + FETCH_BATCH], ["BODY.PEEK[HEADER.FIELDS (FROM)]"])
            found.update({uid: bytes(item.get(b"BODY[HEADER.FIELDS (FROM)]", b"")) for uid, item in data.items()})
        return found

    def fetch_batches(self, uids: list[int], files: FileStore) -> Iterator[list[tuple[int, RawMessage]]]:
        """(uid, the message stored on disk) in UID order, batched by count and by size. Small
        messages come several to a command; a large one alone, in pieces, straight to its file."""
        assert self.client is not None
        for batch, size in self._plan(uids):
            if size:
                stored = self._fetch_in_pieces(batch[0], size, files)
                yield [(batch[0], stored)] if stored is not None else []
                continue
            data = self.client.fetch(batch, ["BODY.PEEK[]"])
            yield [(uid, files.save_raw(bytes(data[uid][b"BODY[]"])))
                   for uid in batch if b"BODY[]" in data.get(uid, {})]

    def _fetch_in_pieces(self, uid: int, size: int, files: FileStore) -> RawMessage | None:
        """The message's bytes as the server holds them (`size`: its RFC822.SIZE), hashed as they
        are written; None when it is gone. Bytes short of `size` are never stored from one
        reading: the pieces stop with _Short, which removes the file before it is named. A message
        gone meanwhile is left out; one still there is read once more, and the same bytes again
        are the message as the server holds it (RFC822.SIZE only SHOULD match BODY[], and some
        servers overstate it). Other bytes leave it for the next poll: MailboxError ends this one
        before the cursor passes it."""
        try:
            return self._store_pieces(uid, size, files)
        except _Short as short:
            if not self._holds(uid):
                return None  # expunged meanwhile, like a message gone before its first piece
            first = short.seen
        try:
            stored = self._store_pieces(uid, size, files, accept=first)
        except _Short as short:
            if not self._holds(uid):
                return None
            raise MailboxError(f"message {uid} came short: {short.seen[0]} of {size} bytes; "
                               "fetched again on the next poll") from short
        if stored is not None and stored.size < size:
            log.warning("message smaller than its RFC822.SIZE, the same twice",
                        extra={"uid": uid, "rfc822_size": size, "read": stored.size})
        return stored

    def _store_pieces(self, uid: int, size: int, files: FileStore,
                      accept: tuple[int, str] | None = None) -> RawMessage | None:
        pieces = self._pieces(uid, size, accept)
        first = next(pieces, None)
        if first is None:
            return None
        digest, path, got = files.save_chunks(itertools.chain([first], pieces), "raw", sync=False)
        return RawMessage(digest, path, got)

    def _pieces(self, uid: int, size: int, accept: tuple[int, str] | None) -> Iterator[bytes]:
        """The pieces in order; _Short at the end when they come to less than `size`, unless they
        are `accept` ((length, sha256) of an earlier reading)."""
        assert self.client is not None
        offset, seen = 0, hashlib.sha256()
        while True:
            answer = self.client.fetch([uid], [f"BODY.PEEK[]<{offset}.{FETCH_PIECE}>"]).get(uid, {})
            piece = next((bytes(v or b"") for k, v in answer.items() if k.startswith(b"BODY[")), None)
            if piece is None and offset == 0:
                return  # expunged before we began
            if piece:
                seen.update(piece)
                yield piece
                offset += len(piece)
            if piece is None or len(piece) < FETCH_PIECE:
                break
        if offset < size and (offset, seen.hexdigest()) != accept:
            raise _Short((offset, seen.hexdigest()))

    def _holds(self, uid: int) -> bool:
        """Whether the selected folder still has this message."""
        assert self.client is not None
        return b"RFC822.SIZE" in self.client.fetch([uid], ["RFC822.SIZE"]).get(uid, {})

    def _plan(self, uids: list[int]) -> Iterator[tuple[list[int], int]]:
        """Batches of UIDs, and the size of a batch that is one large message (0 for the others)."""
        assert self.client is not None
        for start in range(0, len(uids), FETCH_BATCH):
            chunk = uids[start:start + FETCH_BATCH]
            sizes = self.client.fetch(chunk, ["RFC822.SIZE"])
            batch: list[int] = []
            total = 0
            for uid in chunk:
                size = int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0))
                if batch and (size > FETCH_PIECE or total + size > FETCH_BATCH_BYTES):
                    yield batch, 0
                    batch, total = [], 0
                if size > FETCH_PIECE:
                    yield [uid], size
                    continue
                batch.append(uid)
                total += size
            if batch:
                yield batch, 0

    def folder_name(self, name: str) -> str:
        """`name` as the server spells it (NAMESPACE, or LIST "" "" where it has none)."""
        assert self.client is not None
        if self._namespace is None:
            self._namespace = personal_namespace(self.client)
        return server_folder_name(name, *self._namespace)

    def can_move(self) -> bool:
        """MOVE, or COPY + UID EXPUNGE (UIDPLUS). A plain EXPUNGE would also remove every message a
        person flagged \\Deleted in that folder, so without either the bot leaves mail where it is."""
        assert self.client is not None
        capabilities = self.client.capabilities()
        return b"MOVE" in capabilities or b"UIDPLUS" in capabilities

    def move(self, uids: list[int], folder: str) -> None:
        """Move messages out of the selected folder (nothing is removed before it is copied)."""
        assert self.client is not None and not self.readonly and self.can_move()
        folder = self.folder_name(folder)
        if not self.client.folder_exists(folder):
            self.client.create_folder(folder)
        if b"MOVE" in self.client.capabilities():
            self.client.move(uids, folder)
            return
        # Microsoft 365 and older servers: copy, flag, and expunge only these UIDs
        self.client.copy(uids, folder)
        self.client.add_flags(uids, [DELETED])
        self.client.uid_expunge(uids)


def find_copies(settings: ServerSettings, folders: list[str], message_ids: list[str]) -> set[str]:
    """Which of these Message-IDs are on a message in one of these folders (the bot's copies
    of what it sent); a folder that does not exist holds none."""
    found: set[str] = set()
    with ImapMailbox(settings) as box:
        assert box.client is not None
        try:
            for folder in dict.fromkeys(box.folder_name(f) for f in folders):
                if not box.client.folder_exists(folder):
                    continue
                box.client.select_folder(folder, readonly=True)
                for message_id in message_ids:
                    if message_id not in found and box.client.search(["HEADER", "Message-ID", message_id]):
                        found.add(message_id)
        except (OSError, IMAPClient.Error) as exc:
            raise MailboxError(f"IMAP {settings.host}:{settings.port}: {exc}") from exc
    return found


class IdleWatcher:
    """Waits for new mail with IMAP IDLE on its own connection and calls `on_mail`.

    IDLE is re-issued every `renew_seconds` (servers drop an IDLE after ~30 min;
    RFC 2177 asks for less), and after any drop it reconnects with backoff. The
    backoff starts again at 1 s once a connection has lived STABLE_SECONDS, so each
    restart of the server costs seconds, not the doubled wait of the outage before.
    Servers without IDLE are left to the scheduled poll.
    """

    def __init__(self, settings: ServerSettings, on_mail: Callable[[], None], stop: threading.Event,
                 renew_seconds: float = 540.0) -> None:
        self.settings, self.on_mail, self.stop, self.renew_seconds = settings, on_mail, stop, renew_seconds
        self.supported = True
        self.connected_at: float | None = None  # monotonic time the current connection logged in

    def run(self) -> None:
        delay = 1.0
        while not self.stop.is_set() and self.supported:
            self.connected_at = None
            try:
                self._watch()
                delay = 1.0
            except (MailboxError, OSError, IMAPClient.Error) as exc:
                if self.connected_at is not None and time.monotonic() - self.connected_at >= STABLE_SECONDS:
                    delay = 1.0
                log.warning("idle connection lost", extra={"error": str(exc), "retry_in": delay})
                self.stop.wait(delay)
                delay = min(delay * 2, 300.0)

    def _watch(self) -> None:
        with ImapMailbox(self.settings) as box:
            assert box.client is not None
            self.connected_at = time.monotonic()
            if b"IDLE" not in box.client.capabilities():
                self.supported = False
                log.info("server has no IDLE; polling only")
                return
            self.on_mail()  # whatever arrived while we were not watching
            while not self.stop.is_set():
                self._idle_once(box.client)

    def _idle_once(self, client: IMAPClient) -> None:
        client.idle()
        renew_at = time.monotonic() + self.renew_seconds
        try:
            while not self.stop.is_set() and time.monotonic() < renew_at:
                started = time.monotonic()
                responses = client.idle_check(timeout=IDLE_CHECK_SECONDS)
                if not responses and time.monotonic() - started < IDLE_CHECK_SECONDS / 2:
                    # imapclient returns [] on EOF: readable at once with nothing to read means the
                    # server or the network dropped us; reconnect rather than idle on a dead socket
                    raise MailboxError("the IDLE connection was closed")
                if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    self.on_mail()
        finally:
            try:
                client.idle_done()
            except (OSError, IMAPClient.Error):
                pass  # the connection is gone; run() reconnects
