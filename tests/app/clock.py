"""A clock the sign-in and session tests move by hand (the stores take ``now`` as a callable)."""

from __future__ import annotations

import datetime as dt

START = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)
