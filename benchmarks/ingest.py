"""Ingestion throughput: the platform's own path versus plain DuckDB ``read_csv`` on the same files.

Generates wide-CSV gateway dumps holding ``--rows`` readings (default 10 000 000) for a registry
of machines of the four simulated types, then, in the same run and each in a fresh process:

* platform: ``ingest_landing`` into a new warehouse — hashing, ledger, typed parse, unit
  conversion, timezone checks, range checks, duplicate detection, per-reading rejects, accounting;
* baseline: ``CREATE TABLE … AS SELECT * FROM read_csv(files, ignore_errors=true)`` into a new
  DuckDB file, one table per machine type (plain DuckDB: no validation, and the rows it cannot
  parse are silently dropped — without ``ignore_errors`` it refuses the dirty files outright).

Prints one JSON line. ``ratio`` = platform rows/s ÷ DuckDB rows/s (target ≥ 0.5 at 10 M).
``load_1m`` is the machine's 1-minute load average before and after the timed runs: on a shared
machine with few cores the two sides can see different contention, so read the ratio with it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dt_platform.catalog import MACHINE_TYPES, SIMULATED_TYPES
from dt_platform.warehouse import table_names

MACHINES_PER_TYPE = 5
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def generate(root: Path, n_readings: int, n_files: int, bad_rate: float, seed: int) -> dict:
    """Write the registry and the CSV dumps; return what was written."""
    rng = np.random.default_rng(seed)
    landing = root / "landing"
    landing.mkdir(parents=True)
    registry = ["machines:"]
    for mtype in SIMULATED_TYPES:
        for i in range(1, MACHINES_PER_TYPE + 1):
            registry.append(f"  - {{machine_id: {mtype.upper()}-{i:02d}, type: {mtype}}}")
    (root / "machines.yaml").write_text("\n".join(registry) + "\n")

    per_file = n_readings // n_files
    written = 0
    offset_s = 0  # files follow each other in time, all in the past
    for f in range(n_files):
        mtype = MACHINE_TYPES[SIMULATED_TYPES[f % len(SIMULATED_TYPES)]]
        sensors = mtype.sensors
        n_rows = per_file // len(sensors)
        # Machines interleaved, one sample a second each, each file its own span of time.
        machine = np.arange(n_rows) % MACHINES_PER_TYPE
        seconds = offset_s + np.arange(n_rows) // MACHINES_PER_TYPE
        offset_s = int(seconds[-1]) + 1
        ts = np.datetime64(START.replace(tzinfo=None), "s") + seconds.astype("timedelta64[s]")
        local = np.datetime_as_string(ts + np.timedelta64(8, "h"), unit="s")
        columns = {
            "timestamp": pa.array(np.char.add(local, "+08:00")),
            "machine_id": pa.array(
                np.char.add(f"{mtype.name.upper()}-0", (machine + 1).astype(str))
            ),
        }
        for s in sensors:
            mid = (s.low + s.high) / 2 if np.isfinite(s.high) and s.high < 1e5 else 50.0
            span = (s.high - s.low) / 20 if s.high < 1e5 else 5.0
            values = np.round(rng.normal(mid, span / 3, n_rows), 3).astype(str)
            if bad_rate:
                values[rng.random(n_rows) < bad_rate] = "ERR"
            columns[f"{s.tag} [{s.unit}]"] = pa.array(values)
        path = landing / f"gw-{mtype.name}" / f"dump_{f:04d}.csv"
        path.parent.mkdir(exist_ok=True)
        pacsv.write_csv(
            pa.table(columns),
            path,
            write_options=pacsv.WriteOptions(quoting_style="none"),
        )
        written += n_rows * len(sensors)
    files = sorted(landing.rglob("*.csv"))
    return {"readings": written, "files": len(files), "bytes": sum(p.stat().st_size for p in files)}


def _platform(root: str, queue) -> None:
    from dt_platform.ingest.loader import IngestLimits, ingest_landing
    from dt_platform.ingest.registry import load_registry, sync_registry
    from dt_platform.warehouse import Warehouse

    base = Path(root)
    warehouse = Warehouse(base / "platform.duckdb")
    with warehouse.write() as con:
        sync_registry(con, load_registry(base / "machines.yaml"))
    start = time.perf_counter()
    with warehouse.write() as con:
        # The generated readings start in 2025: open the plausibility window there.
        summary = ingest_landing(con, base / "landing", limits=IngestLimits(earliest=START))
    elapsed = time.perf_counter() - start
    queue.put(
        {
            "seconds": elapsed,
            "rows_in": summary.rows_in,
            "rows_loaded": summary.rows_loaded,
            "rows_rejected": summary.rows_rejected,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def _baseline(root: str, queue) -> None:
    import duckdb

    base = Path(root)
    con = duckdb.connect(str(base / "baseline.duckdb"))
    start = time.perf_counter()
    for folder in sorted((base / "landing").iterdir()):
        files = [str(p) for p in sorted(folder.glob("*.csv"))]
        con.execute(
            f"CREATE TABLE {folder.name.replace('-', '_')} AS SELECT * FROM read_csv(?, ignore_errors=true)",
            [files],
        )
    con.execute("CHECKPOINT")
    elapsed = time.perf_counter() - start
    columns = {t: len(con.execute(f"DESCRIBE {t}").fetchall()) - 2 for t in table_names(con)}
    readings = sum(
        con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] * n for t, n in columns.items()
    )
    con.close()
    queue.put(
        {
            "seconds": elapsed,
            "rows_loaded": readings,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def _measure(target, root: Path) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(str(root), queue))
    proc.start()
    result = queue.get()
    proc.join()
    if proc.exitcode:
        raise SystemExit(f"{target.__name__} failed with exit code {proc.exitcode}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="readings to generate")
    parser.add_argument("--files", type=int, default=20, help="number of dump files")
    parser.add_argument("--bad-rate", type=float, default=1e-5, help="share of non-numeric cells")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep files here (default: temp)"
    )
    args = parser.parse_args()

    root = args.workdir or Path(tempfile.mkdtemp(prefix="dt-bench-ingest-"))
    try:
        gen_start = time.perf_counter()
        generated = generate(root, args.rows, args.files, args.bad_rate, args.seed)
        print(f"generated {generated} in {time.perf_counter() - gen_start:.1f} s", file=sys.stderr)
        load_before = os.getloadavg()[0]
        baseline = _measure(_baseline, root)
        platform = _measure(_platform, root)
        if platform["rows_in"] != generated["readings"]:
            raise SystemExit(
                f"platform saw {platform['rows_in']} readings, generated {generated['readings']}"
            )
        if platform["rows_loaded"] + platform["rows_rejected"] != platform["rows_in"]:
            raise SystemExit("platform accounting does not balance")
        platform_rate = platform["rows_in"] / platform["seconds"]
        duckdb_rate = generated["readings"] / baseline["seconds"]
        print(
            json.dumps(
                {
                    "benchmark": "ingest",
                    "rows": generated["readings"],
                    "files": generated["files"],
                    "mb": round(generated["bytes"] / 2**20, 1),
                    "platform_s": round(platform["seconds"], 3),
                    "duckdb_s": round(baseline["seconds"], 3),
                    "platform_rows_per_s": round(platform_rate),
                    "duckdb_rows_per_s": round(duckdb_rate),
                    "ratio": round(platform_rate / duckdb_rate, 3),
                    "rows_loaded": platform["rows_loaded"],
                    "rows_rejected": platform["rows_rejected"],
                    "peak_rss_mb": round(platform["peak_rss_mb"], 1),
                    "duckdb_peak_rss_mb": round(baseline["peak_rss_mb"], 1),
                    "load_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                }
            )
        )
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
