"""Content-addressed files on disk: raw messages and documents, written before the commit."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
        return digest, path

    @staticmethod
    def flush() -> None:
        """Make every file written so far durable: one sync for a whole batch."""
        os.sync()

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
