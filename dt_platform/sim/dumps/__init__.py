"""The gateways' dumps: each gateway of :mod:`dt_platform.sim.gateways` writes its machines'
readings into ``landing/<gateway>/`` in its format (docs/dumps.md), with the realism the
ingestion must handle.

Realism, all logged in the ground truth with file and line (CSV: the header is line 1; JSONL:
first line is 1; Parquet: 0-based row index): duplicated lines inside a file, a file delivered
twice under a second name (``*_resent``), an offline gateway delivering its days late in one
``*_backfill_<from>_<to>`` file, and bad input at ``bad_rate`` per reading.

Kinds in ``injected.parquet`` (``sensor`` is set when one reading is bad, null when the line is):

* CSV: ``non_numeric`` (``ERR``, ``n/a``, ``#VALUE!``, ``--``), ``nan``, ``inf`` (cells);
  ``wrong_column_count`` (a field missing or one too many), ``naive_timestamp`` (lines).
* JSON Lines: ``non_numeric`` (a string value), ``nan`` / ``inf`` (the ``NaN`` / ``Infinity``
  literals Python's json writes: not strict JSON, so parse line by line), ``unknown_sensor``,
  ``wrong_column_count`` (the ``unit`` key missing), ``malformed_line`` (truncated JSON),
  ``naive_timestamp``.
* Parquet: ``nan``, ``inf``, ``unknown_sensor``.
* All: ``out_of_range`` (an implausible sensor spike, outside the catalogue range after unit
  conversion), ``duplicate_line`` (an exact copy right after the original; the copy's line is
  logged), ``duplicate_file`` (a whole file sent again under ``*_resent``; line null).

Modules: ``source`` (a machine's readings as its gateway sends them), ``writer`` (files per
gateway, duplicates, re-delivery), one writer per format (``wide_csv``, ``jsonl``, ``parquet``),
``records`` (what the ground truth logs) and ``write`` (every gateway of a run).
"""

from dt_platform.sim.dumps.records import FileRecord, InjectedItem
from dt_platform.sim.dumps.write import write_dumps

__all__ = ["FileRecord", "InjectedItem", "write_dumps"]
