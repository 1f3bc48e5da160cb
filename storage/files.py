"""Content-addressed files on disk: raw messages and documents, written before the commit."""
from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from parsers.parts import FileAttachment
from parsers.records import Attachment


#: a row's bytes that were written to a file start with this (an email never contains NUL)
SPILLED = b"\0spilled:"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class RawMessage:
    """A message as fetched, on disk under its hash: it is read from there, never held whole."""

    sha256: str
    path: Path
    size: int

    def head(self, n: int = 65536) -> bytes:
        with open(self.path, "rb") as source:
            return source.read(n)

    def read(self) -> bytes:
        return self.path.read_bytes()


class FileStore:
    """Files named by their hash under one root; writing the same bytes twice is a no-op."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, digest: str, kind: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError("not a sha256 hex digest")
        return self.root / kind / digest[:2] / digest

    def save(self, data: bytes, kind: str, sync: bool = True) -> tuple[str, Path]:
        """Write once by hash. With sync=False the caller calls flush() before its commit."""
        digest = sha256(data)
        path = self.path_for(digest, kind)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            self._write_atomically(path, data, sync)
            if sync:
                self._sync_names(path)
        return digest, path

    def save_chunks(self, chunks: Iterable[bytes], kind: str, sync: bool = True) -> tuple[str, Path, int]:
        """Write a stream, hashing it on the way: (digest, path, size); the same bytes twice are one file."""
        folder = self.root / kind
        folder.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as out:
                digest, size = _write_chunks(out, chunks)
                if sync:
                    os.fsync(out.fileno())
            path = self.path_for(digest, kind)
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp, path)  # the same bytes under the same name: replacing changes nothing
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        if sync:
            self._sync_names(path)
        return digest, path, size

    def save_file(self, file: Attachment | FileAttachment, kind: str) -> str:
        """An attachment stored by its hash, streamed from where it lies; synced by flush()."""
        if isinstance(file, Attachment):
            return self.save(file.data, kind, sync=False)[0]
        if not self.path_for(file.sha256, kind).exists():
            self.save_chunks(file.chunks(), kind, sync=False)
        return file.sha256

    def spill(self, chunks: Iterable[bytes], kind: str) -> bytes:
        """Bytes written to a file instead of a database row: what the row keeps in their place
        (see `spilled`); synced at once, as the row may be committed by code that does not flush."""
        digest, _, _ = self.save_chunks(chunks, kind)
        return SPILLED + f"{kind}/{digest}".encode()

    def spilled(self, kept: bytes) -> Path | None:
        """The file a row's bytes were spilled to, or None when the row holds them itself."""
        if not kept.startswith(SPILLED):
            return None
        kind, _, digest = kept[len(SPILLED):].decode("ascii").partition("/")
        return self.path_for(digest, kind)

    def save_raw(self, data: bytes) -> RawMessage:
        digest, path = self.save(data, "raw", sync=False)
        return RawMessage(digest, path, len(data))

    def raw(self, digest: str) -> RawMessage:
        path = self.path_for(digest, "raw")
        return RawMessage(digest, path, path.stat().st_size)

    def _sync_names(self, path: Path) -> None:
        """fsync the folders from the file's up to the root: a rename, and a folder made for it,
        are durable only once their folder is synced (the file's own fsync does not cover them)."""
        folder = path.parent
        while True:
            handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(handle)
            finally:
                os.close(handle)
            if folder == self.root or folder == folder.parent:
                return
            folder = folder.parent

    @staticmethod
    def flush() -> None:
        """Make every file written so far durable: one sync for a whole batch."""
        os.sync()

    def sweep_temporary(self, older_than_seconds: float = 3600) -> int:
        """Remove the `.tmp-*` files a process killed mid-write left behind (never named, so
        nothing refers to them); only old ones, so another process's write in progress stays."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        for temp in self.root.glob("*/**/.tmp-*"):
            try:
                if temp.is_file() and temp.stat().st_mtime < cutoff:
                    temp.unlink()
                    removed += 1
            except FileNotFoundError:  # another sweeper was first
                pass
        return removed

    def read(self, digest: str, kind: str) -> bytes:
        return self.path_for(digest, kind).read_bytes()

    @staticmethod
    def _write_atomically(path: Path, data: bytes, sync: bool) -> None:
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                if sync:
                    os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def _write_chunks(out: BinaryIO, chunks: Iterable[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        out.write(chunk)
    return digest.hexdigest(), size
