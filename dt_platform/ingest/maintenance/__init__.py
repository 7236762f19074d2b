"""The maintenance log: work orders exported by the CMMS into ``landing/cmms/*.csv``.

Work orders are few (hundreds a year) and authoritative: corrective ones mark failures, which is
what the prognostics learn from. The whole log is rebuilt from every export on each run, so a
corrected work order in a later export simply replaces the old row (the latest export wins).

Nothing is dropped silently. Every line of an export is *loaded*, *superseded* by a later export
(kept in ``maintenance_superseded``) or *rejected* with a reason code and its line number (in
``maintenance_rejects``); a file that cannot be read at all counts as one rejected row. The
ledger ``maintenance_files`` holds each file's sha256, its arrival order and its counts, and
``unbalanced_exports`` checks ``rows_in = loaded + rejected + superseded`` against the stored
rows. Reason codes: :data:`REASONS` (and docs/dumps.md).

Modules: ``files`` (which entries are exports; reading one without following links), ``csvtext``
(bytes to records, line by line), ``orders`` (the header and the checks of one work order),
``parse`` (one export), ``ledger`` (arrival order, the ledger, the balance), ``load`` (the run).
"""

from dt_platform.ingest.maintenance.files import MAX_EXPORT_BYTES, export_entries, export_files
from dt_platform.ingest.maintenance.ledger import (
    UNBALANCED_COLUMNS,
    exports_without_work_orders,
    unbalanced_exports,
)
from dt_platform.ingest.maintenance.load import MaintenanceSummary, load_maintenance_log
from dt_platform.ingest.maintenance.orders import ACTIONS, KINDS
from dt_platform.ingest.maintenance.reasons import RAW_CAP, REASONS

__all__ = [
    "ACTIONS",
    "KINDS",
    "MAX_EXPORT_BYTES",
    "RAW_CAP",
    "REASONS",
    "UNBALANCED_COLUMNS",
    "MaintenanceSummary",
    "export_entries",
    "export_files",
    "exports_without_work_orders",
    "load_maintenance_log",
    "unbalanced_exports",
]
