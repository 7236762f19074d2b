"""Load sensor dumps from the landing folder into the warehouse, losing nothing.

Every file goes through the same steps, inside one transaction:

1. **Ledger.** The file's sha256 decides: seen before (under any name) → recorded as a
   ``duplicate_file`` and not loaded again; same path with new content → a new *version* that
   supersedes the old one; otherwise a new file.
2. **Parse.** Wide CSV is read by DuckDB with typed columns; lines DuckDB cannot parse come back
   from its reject table with their physical line number and text, and are re-parsed here one by
   one so that every reading on them gets its own reason. JSON Lines and Parquet are read into the
   same long shape (one row per reading).
3. **Classify.** Clean rows of a wide CSV (known machine, timestamp with offset, every value
   finite and plausible, no duplicate) take a fast path straight into ``readings``. Everything else
   becomes one row per reading and is classified in SQL: the first failing rule gives the reason.
4. **Account.** ``rows_in = rows_loaded + rows_rejected`` is checked for the file before commit;
   a mismatch is a bug and aborts the file (it stays in landing and is retried).

The next file is read and hashed in a worker thread while the current one loads; a CSV or
Parquet file that changed on disk between that read and its parse is rolled back and left for the
next run (``IngestSummary.retry_later``); the other files load.

Reason codes are listed in :data:`dt_platform.ingest.mapping.REASONS`.

Modules: ``landing`` (which files, in what order, one transaction each), ``readahead`` (the worker
thread), ``ledger`` (new file, new version or duplicate), ``dump`` (one file from reader to
accounting), one reader per format (``wide_csv`` with ``wide_csv_parse``, ``jsonl``, ``parquet``)
filling the long stage (``stage``), and its classification (``classify``, ``duplicates``).
"""

from dt_platform.cmms import MAINTENANCE_FOLDER
from dt_platform.ingest.loader.landing import discover_dumps, ingest_landing
from dt_platform.ingest.loader.records import (
    FileChangedDuringLoad,
    FileResult,
    IngestError,
    IngestSummary,
)

__all__ = [
    "MAINTENANCE_FOLDER",
    "FileChangedDuringLoad",
    "FileResult",
    "IngestError",
    "IngestSummary",
    "discover_dumps",
    "ingest_landing",
]
