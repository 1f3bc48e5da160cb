"""A loopback TCP proxy that can cut its first connection mid-stream (a real connection drop)."""
from __future__ import annotations

import socket
import threading

from bot.devmail import free_port


class CuttingProxy:
    """Forwards to `target_port`; the first connection is closed after `cut_after` server bytes."""

    def __init__(self, target_port: int, cut_after: int | None = None) -> None:
        self.target_port, self.cut_after = target_port, cut_after
        self.port = free_port()
        self.cuts = 0
        self.open: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        first = True
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self.open += [client, server]
            limit = self.cut_after if first else None
            first = False
            threading.Thread(target=self._pipe, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, limit), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, limit: int | None) -> None:
        passed = 0
        try:
            while data := source.recv(4096):
                if limit is not None and passed + len(data) > limit:
                    sink.sendall(data[: limit - passed])
                    self.cuts += 1
                    break
                sink.sendall(data)
                passed += len(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def cut_all(self) -> None:
        """Drop every connection open now, as a network failure would."""
        for sock in self.open:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.cuts += len(self.open) // 2
        self.open = []

    def close(self) -> None:
        self.listener.close()
