"""Read, hash and (for a wide CSV) parse the next file on a worker thread while the current one
loads."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import duckdb

from dt_platform.ingest.loader.landed import _Arrival, _read_delivery
from dt_platform.ingest.loader.records import _Delivery, _format_of
from dt_platform.ingest.loader.rules import cap_text
from dt_platform.ingest.loader.wide_csv_parse import _parse_wide_csv, _parse_wide_header


class _Scratch:
    """Parse the next wide CSV while the current file loads.

    The reader thread parses each wide CSV it has read into a table of an in-memory database
    attached for the run (attached databases are shared by every cursor of the connection), on
    its own cursor, in its own transaction. Its file's transaction then only copies that table
    into its ``stage``: the parse overlaps the previous file's inserts and checks, on the other
    core. Everything else — the ledger, checks, inserts, accounting — stays in the file's own
    transaction, in arrival order. Files whose content is already in the ledger are not parsed.
    """

    NAME = "dt_ingest_scratch"

    def __init__(self, con: duckdb.DuckDBPyConnection, known_shas: set[str]) -> None:
        self._con, self._known_shas = con, known_shas
        self._cursor: duckdb.DuckDBPyConnection | None = None
        self._count = itertools.count(1)

    def __enter__(self) -> _Scratch:
        self._con.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {self.NAME}")
        self._cursor = self._con.cursor()
        self._cursor.execute("SET TimeZone = 'UTC'")
        return self

    def __exit__(self, *exc) -> None:
        if self._cursor is not None:
            self._cursor.close()
        self._con.execute(f"DETACH DATABASE IF EXISTS {self.NAME}")

    def prepare(self, delivery: _Delivery) -> None:
        """Runs on the reader thread, right after the file was read and hashed."""
        if delivery.refused or _format_of(delivery.rel) != "wide_csv" or not delivery.data:
            return
        if delivery.sha in self._known_shas:
            return  # a re-delivery: nothing will be parsed
        number = next(self._count)
        table = f"{self.NAME}.stage_{number}"
        try:
            names = [f"c{i}" for i in range(len(_parse_wide_header(delivery.data)))]
            refused = _parse_wide_csv(
                self._cursor, f"ahead_{number}", delivery.data, names, into=f"TABLE {table}"
            )
        except BaseException as exc:  # re-raised in the file's turn, in its transaction
            delivery.prepared = exc
            return
        delivery.prepared = (table, refused)

    def release(self, delivery: _Delivery) -> None:
        """Drop the parsed table once its file's transaction has ended."""
        if isinstance(delivery.prepared, tuple):
            self._con.execute(f"DROP TABLE IF EXISTS {delivery.prepared[0]}")


class _ReadAhead:
    """Yield the deliveries of ``arrivals`` in order while the next one is read and hashed in a
    worker thread (file reads and sha256 release the GIL), overlapping the previous file's load."""

    def __init__(
        self,
        arrivals: list[tuple[str, Path, _Arrival]],
        depth: int = 1,
        prepare: Callable[[_Delivery], None] | None = None,
    ):
        self._arrivals, self._depth, self._prepare = arrivals, depth, prepare
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dt-ingest-read")
        self._pending: deque[Future[_Delivery]] = deque()

    def _read(self, rel: str, path: Path, arrival: _Arrival) -> _Delivery:
        try:
            delivery = _read_delivery(rel, path, arrival)
        except Exception as exc:  # a bug must cost this file, not the run
            return _Delivery.refused_entry(
                rel, path, arrival.stat, "loader_error", cap_text(f"{type(exc).__name__}: {exc}")
            )
        if self._prepare is not None:
            self._prepare(delivery)
        return delivery

    def __enter__(self) -> Iterator[_Delivery]:
        return self._iterate()

    def _iterate(self) -> Iterator[_Delivery]:
        upcoming = iter(self._arrivals)
        for item in itertools.islice(upcoming, self._depth):
            self._pending.append(self._pool.submit(self._read, *item))
        while self._pending:
            delivery = self._pending.popleft().result()
            for item in itertools.islice(upcoming, 1):
                self._pending.append(self._pool.submit(self._read, *item))
            yield delivery

    def __exit__(self, *exc) -> None:
        for future in self._pending:
            future.cancel()
        self._pool.shutdown(wait=True)
