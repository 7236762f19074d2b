"""Write every gateway's dumps for a run, each with the writer of its format."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dt_platform.sim.config import SimConfig
from dt_platform.sim.dumps.jsonl import _JsonlWriter
from dt_platform.sim.dumps.parquet import _ParquetWriter
from dt_platform.sim.dumps.records import FileRecord, InjectedItem
from dt_platform.sim.dumps.wide_csv import _CsvWriter
from dt_platform.sim.dumps.writer import _GatewayWriter
from dt_platform.sim.gateways import GATEWAYS

if TYPE_CHECKING:
    from dt_platform.sim.line import MachineRun
    from dt_platform.sim.sensors import Observed

WRITERS: dict[str, type[_GatewayWriter]] = {
    "csv": _CsvWriter,
    "jsonl": _JsonlWriter,
    "parquet": _ParquetWriter,
}


def write_dumps(
    runs: Sequence[MachineRun], observed: Sequence[Observed], config: SimConfig, out_dir: Path
) -> tuple[list[FileRecord], list[InjectedItem]]:
    """Write every gateway's dumps under ``out_dir/<gateway>/``; return the file and injection logs."""
    files: list[FileRecord] = []
    injected: list[InjectedItem] = []
    for index, gw in enumerate(GATEWAYS):
        members = [(r, o) for r, o in zip(runs, observed, strict=True) if r.spec.gateway == gw.name]
        if not members:
            continue
        writer = WRITERS[gw.fmt](gw, index, members, config, out_dir)
        writer.write()
        files.extend(writer.files)
        injected.extend(writer.injected)
    return files, injected
