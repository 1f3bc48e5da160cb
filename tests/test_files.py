"""storage.files: a file written with sync is on disk with its name once the call returns."""
from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from storage.files import FileStore


def _synced_folders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The inodes of the folders fsync is called on from here on."""
    synced: list[int] = []
    fsync = os.fsync

    def recording(fd: int) -> None:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            synced.append(info.st_ino)
        fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    return synced


def test_a_spilled_file_has_its_name_synced_with_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = FileStore(tmp_path / "files")
    synced = _synced_folders(monkeypatch)
    path = files.spilled(files.spill([b"an email ", b"too large for its row"], "outbox"))
    assert path is not None and path.read_bytes() == b"an email too large for its row"
    # the rename into its folder, and the folders made for it, survive a power cut like the bytes
    assert {path.parent.stat().st_ino, path.parent.parent.stat().st_ino} <= set(synced)


def test_a_file_saved_with_sync_has_its_name_synced_with_it(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    files = FileStore(tmp_path / "files")
    synced = _synced_folders(monkeypatch)
    _, path = files.save(b"a document", "doc")
    assert {path.parent.stat().st_ino, path.parent.parent.stat().st_ino} <= set(synced)


def test_a_file_saved_without_sync_waits_for_flush(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = FileStore(tmp_path / "files")
    synced = _synced_folders(monkeypatch)
    files.save(b"a document", "doc", sync=False)
    files.save_chunks([b"a raw message"], "raw", sync=False)
    assert synced == []  # one os.sync() for the whole batch, in flush()


def test_temporary_files_an_interrupted_write_left_are_swept_when_old(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    digest, kept = store.save(b"a message", "raw")
    old = kept.parent / ".tmp-killed"
    old.write_bytes(b"half a mess")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    fresh = tmp_path / "outbox" / ".tmp-writing"
    fresh.parent.mkdir()
    fresh.write_bytes(b"being written")
    assert store.sweep_temporary() == 1
    assert not old.exists() and fresh.exists() and kept.read_bytes() == b"a message"
