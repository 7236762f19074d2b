"""Load sensor dumps from the landing folder into the warehouse, losing nothing.

Every file goes through the same steps, inside one transaction:

1. **Read.** Only a regular file inside landing is read, reached without following any link and
   opened without blocking (``landed``); anything else — a link, FIFO, socket or device, a file
   gone before it was read, one too large or unreadable — is refused and recorded in the ledger
   with its reason. The bytes are read once and hashed; every parser works on those bytes (or a
   private copy of them), never on the landed path.
2. **Ledger.** The file's sha256 decides (``ledger``): bytes seen before (under any name, in any
   state) are a ``duplicate_file`` and not loaded again; new bytes under a known name are a new
   *version* that supersedes what the earlier versions loaded, whatever names their copies had
   (corrections always win); otherwise a new file.
3. **Parse.** Wide CSV is read by DuckDB with typed columns; lines DuckDB cannot parse come back
   from its reject table with their physical line number and text, and are re-parsed here one by
   one so that every reading on them gets its own reason (lines that are not UTF-8, hold an
   unbalanced quote or a number with underscores are taken out before DuckDB sees them). JSON
   Lines and Parquet are read into the same long shape (one row per reading).
4. **Classify.** Clean rows of a wide CSV (known machine, timestamp with a plausible offset inside
   the accepted window, every value finite and in its sensor's range, no duplicate) take a fast
   path straight into ``readings``. Everything else becomes one row per reading and is
   classified in SQL: the first failing rule gives the reason (``rules`` holds the bounds).
5. **Account.** ``rows_in = rows_loaded + rows_rejected`` is checked for the file before commit.

Any error on one file — a parse the readers did not foresee, an accounting mismatch (a bug) —
rolls back that file's transaction and records it as quarantined (``loader_error``); the run goes
on with the other files, and the file is read again only when its size, mtime or ctime change,
and loaded again only when its content changes.

The next file is read and hashed in a worker thread while the current one loads; a CSV or
Parquet file that changed on disk between that read and its parse is rolled back and left for the
next run (``IngestSummary.retry_later``); the other files load.

Reason codes are listed in :data:`dt_platform.ingest.mapping.REASONS`.

Modules: ``landing`` (which files, in what order, one transaction each), ``landed`` (reading one
entry safely), ``readahead`` (the worker thread), ``ledger`` (new file, new version or
duplicate), ``dump`` (one file from reader to accounting), one reader per format (``wide_csv``
with ``wide_csv_parse``, ``jsonl``, ``parquet``) filling the long stage (``stage``), its
classification (``classify``, ``duplicates``) and the plausibility bounds (``rules``).
"""

from dt_platform.cmms import MAINTENANCE_FOLDER
from dt_platform.ingest.loader.landing import discover_dumps, ingest_landing
from dt_platform.ingest.loader.records import (
    FileChangedDuringLoad,
    FileResult,
    IngestError,
    IngestSummary,
)
from dt_platform.ingest.loader.rules import IngestLimits

__all__ = [
    "MAINTENANCE_FOLDER",
    "FileChangedDuringLoad",
    "FileResult",
    "IngestError",
    "IngestLimits",
    "IngestSummary",
    "discover_dumps",
    "ingest_landing",
]
