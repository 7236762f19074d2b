"""Reading a connection with time limits, so that slow clients cannot hold a thread for ever.

Two limits: a request's line and headers must arrive within ``header_timeout`` in all (a
slowloris client sending a byte every few seconds is cut off), and every later read (the body,
or the wait for the next request on a kept-alive connection) must make progress within
``idle_timeout``. Writes inherit the idle limit, so a client that stops reading its answer is
cut off too.
"""

from __future__ import annotations

import io
import socket
import time

__all__ = ["DeadlineReader"]


class DeadlineReader(io.RawIOBase):
    """The raw reading side of a socket, with an idle timeout and an optional deadline."""

    def __init__(self, sock: socket.socket, idle_timeout: float) -> None:
        super().__init__()
        self._sock = sock
        self.idle_timeout = idle_timeout
        self.deadline: float | None = None
        sock.settimeout(idle_timeout)

    def readable(self) -> bool:
        return True

    def start_deadline(self, seconds: float) -> None:
        """From now on, reads fail once ``seconds`` have passed (until :meth:`clear_deadline`)."""
        self.deadline = time.monotonic() + seconds

    def clear_deadline(self) -> None:
        self.deadline = None
        self._sock.settimeout(self.idle_timeout)

    def readinto(self, buffer) -> int:  # type: ignore[override]
        timeout = self.idle_timeout
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the request's headers did not arrive in time")
            timeout = min(timeout, left)
        self._sock.settimeout(timeout)
        return self._sock.recv_into(buffer)
