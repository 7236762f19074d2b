"""Ingestion: the digital model (registry), the digital shadow (dumps → telemetry) and the
maintenance log, with the checks that prove nothing was lost and the sensor that makes data flow
without anyone pressing a button."""

import datetime as dt

import dagster as dg

from assets.common import WRITER_POOL, markdown_table
from assets.partitions import daily_partitions, day_bounds
from assets.resources import LandingResource, WarehouseResource
from dt_platform.config import load_settings
from dt_platform.ingest.fingerprint import landing_fingerprint
from dt_platform.ingest.loader import IngestLimits, IngestSummary, ingest_landing
from dt_platform.ingest.maintenance import (
    UNBALANCED_COLUMNS,
    exports_without_work_orders,
    load_maintenance_log,
    unbalanced_exports,
)
from dt_platform.ingest.registry import (
    RegistryError,
    load_registry,
    sync_registry,
)
from dt_platform.ingest.telemetry import build_telemetry_day

GROUP = "ingestion"
LANDING_FINGERPRINT = "landing_fingerprint"
"""``raw_dumps`` metadata: the digest of landing (and the registry) the run started from."""
FRESHNESS_HOURS = load_settings().freshness_hours

TELEMETRY_COLUMNS = {
    "day": "DATE",
    "machine_id": "VARCHAR",
    "machine_type": "VARCHAR",
    "sensor": "VARCHAR",
    "ts": "TIMESTAMP WITH TIME ZONE",
    "value": "DOUBLE",
    "quality": "VARCHAR",
}


@dg.asset(
    group_name=GROUP,
    kinds={"yaml", "duckdb"},
    pool=WRITER_POOL,
    description="The digital model: machines as people declare them in machines.yaml.",
)
def machine_registry(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, landing: LandingResource
) -> dg.MaterializeResult:
    path = landing.registry_path
    try:
        machines = load_registry(path)
    except RegistryError as exc:
        raise dg.Failure(description=str(exc)) from exc
    with warehouse.write() as con:
        counts = sync_registry(con, machines)
        by_type = con.execute(
            "SELECT machine_type, count(*) FROM machines WHERE active GROUP BY 1 ORDER BY 1"
        ).fetchall()
    context.log.info(f"registry {path}: {counts}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            **{k: dg.MetadataValue.int(v) for k, v in counts.items()},
            "by_type": markdown_table(["machine type", "machines"], by_type),
        }
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "raw_dumps",
            group_name=GROUP,
            kinds={"duckdb", "csv", "parquet"},
            deps=["machine_registry"],
            description="Every landed dump, parsed, unit-normalized and deduplicated into readings, "
            "with the sha256 file ledger that makes re-delivery idempotent.",
        ),
        dg.AssetSpec(
            "telemetry_rejects",
            group_name=GROUP,
            kinds={"duckdb"},
            deps=["machine_registry"],
            description="Every reading or file that could not be loaded, with its reason, file and line.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "every_file_balances",
            asset="raw_dumps",
            description="For every file: rows in = rows loaded + rows rejected, against stored rows.",
        ),
        dg.AssetCheckSpec(
            "landing_is_fresh",
            asset="raw_dumps",
            description=f"The newest reading is less than {FRESHNESS_HOURS:g} h old.",
        ),
        dg.AssetCheckSpec(
            "every_new_file_loads_readings",
            asset="raw_dumps",
            description="Every file ingested in this run loaded at least one reading; the others "
            "(duplicates, quarantined files, files whose readings were all rejected) are named "
            "with the reasons of their rows.",
        ),
    ],
    pool=WRITER_POOL,
)
def raw_dumps(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, landing: LandingResource
):
    now = dt.datetime.now(dt.UTC)
    # What landing held before this run read it: the landing sensor's first tick compares with
    # it, so data ingested without the sensor (e.g. by `make demo`) is not ingested again.
    fingerprint, _ = landing_fingerprint(landing.landing_dir, landing.registry_path)
    with warehouse.write() as con:
        summary = ingest_landing(
            con,
            landing.landing_dir,
            now=now,
            log=context.log.info,
            limits=IngestLimits.configured(),
        )
        empty_files = _files_loading_nothing(con, summary)
        unbalanced = con.execute(_UNBALANCED_SQL).fetchall()
        files_total, newest = con.execute(
            """SELECT count(*), (SELECT max(last_ts) FROM file_ledger WHERE status = 'loaded')
               FROM file_ledger"""
        ).fetchone()
        reasons = con.execute(
            "SELECT reason, count(*) FROM telemetry_rejects GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        recent_rejects = con.execute(
            """SELECT source_file, line, sensor, reason, detail FROM telemetry_rejects
               ORDER BY rejected_at DESC, source_file, line LIMIT 20"""
        ).fetchall()
    statuses = {s: summary.count(s) for s in ("loaded", "duplicate_file", "quarantined")}
    yield dg.MaterializeResult(
        asset_key="raw_dumps",
        metadata={
            "new_files": dg.MetadataValue.int(len(summary.files)),
            **{f"files_{k}": dg.MetadataValue.int(v) for k, v in statuses.items()},
            "files_in_ledger": dg.MetadataValue.int(files_total),
            "rows_in": dg.MetadataValue.int(summary.rows_in),
            "rows_loaded": dg.MetadataValue.int(summary.rows_loaded),
            "rows_rejected": dg.MetadataValue.int(summary.rows_rejected),
            "touched_days": dg.MetadataValue.json(
                sorted(d.isoformat() for d in summary.touched_days)
            ),
            "retry_later": dg.MetadataValue.json(summary.retry_later),
            "newest_reading": dg.MetadataValue.text(newest.isoformat() if newest else "none"),
            LANDING_FINGERPRINT: dg.MetadataValue.text(fingerprint),
        },
    )
    yield dg.MaterializeResult(
        asset_key="telemetry_rejects",
        metadata={
            "rejected_now": dg.MetadataValue.int(summary.rows_rejected),
            "by_reason": markdown_table(["reason", "rows"], reasons),
            "latest": markdown_table(
                ["file", "line", "sensor", "reason", "detail"], recent_rejects
            ),
        },
    )
    yield dg.AssetCheckResult(
        check_name="every_file_balances",
        asset_key="raw_dumps",
        passed=not unbalanced,
        metadata={
            "files_checked": dg.MetadataValue.int(files_total),
            "unbalanced": markdown_table(
                ["file", "rows in", "loaded", "rejected", "stored loaded", "stored rejected"],
                unbalanced,
            ),
        },
    )
    age_h = (now - newest).total_seconds() / 3600 if newest else None
    yield dg.AssetCheckResult(
        check_name="landing_is_fresh",
        asset_key="raw_dumps",
        passed=age_h is not None and age_h <= FRESHNESS_HOURS,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "newest_reading_age_h": dg.MetadataValue.float(round(age_h, 2) if age_h else -1.0)
        },
    )
    yield _loads_readings_check(len(summary.files), empty_files)


_UNBALANCED_SQL = """SELECT f.path, f.rows_in, f.rows_loaded, f.rows_rejected,
          (SELECT count(*) FROM readings r WHERE r.file_id = f.file_id),
          (SELECT count(*) FROM telemetry_rejects j WHERE j.file_id = f.file_id)
   FROM file_ledger f
   WHERE f.status <> 'duplicate_file' AND (
       f.rows_in <> f.rows_loaded + f.rows_rejected
       OR f.rows_loaded <> (SELECT count(*) FROM readings r WHERE r.file_id = f.file_id)
       OR f.rows_rejected <> (SELECT count(*) FROM telemetry_rejects j
                              WHERE j.file_id = f.file_id)
       OR (f.records_in IS NOT NULL
           AND f.records_in <> f.records_parsed + f.records_malformed))"""


def _loads_readings_check(new_files: int, empty_files: list[tuple]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name="every_new_file_loads_readings",
        asset_key="raw_dumps",
        passed=not empty_files,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "new_files": dg.MetadataValue.int(new_files),
            "loaded_nothing": dg.MetadataValue.int(len(empty_files)),
            "files": markdown_table(
                ["file", "status", "rows in", "reasons"], empty_files[:50], total=len(empty_files)
            ),
        },
    )


def _files_loading_nothing(con, summary: IngestSummary) -> list[tuple[str, str, int, str]]:
    """(file, status, rows in, reasons) of every file of this run that loaded no reading: a
    gateway re-sending a day under a new name, a file quarantined, every reading rejected."""
    empty = [f for f in summary.files if f.rows_loaded == 0]
    counts: dict[int, str] = {}
    if empty:
        counts = dict(
            con.execute(
                """SELECT file_id, string_agg(reason || ' ×' || n, ', ' ORDER BY n DESC, reason)
                   FROM (SELECT file_id, reason, count(*) AS n FROM telemetry_rejects
                         WHERE list_contains($ids, file_id) GROUP BY ALL)
                   GROUP BY file_id""",
                {"ids": [f.file_id for f in empty]},
            ).fetchall()
        )
    rows = []
    for f in empty:
        if f.status == "duplicate_file":
            reasons = f"duplicate_file: {f.detail}"
        elif f.status == "quarantined":
            reasons = f"{f.reason}: {f.detail}"
        else:
            reasons = counts.get(f.file_id) or "no readings in the file"
        rows.append((f.path, f.status, f.rows_in, reasons))
    return rows


@dg.asset(
    group_name=GROUP,
    kinds={"duckdb", "csv"},
    pool=WRITER_POOL,
    deps=["machine_registry"],
    description="Work orders from the CMMS exports: failures, repairs, replacements.",
    check_specs=[
        dg.AssetCheckSpec(
            "maintenance_rows_balance",
            asset="maintenance_log",
            description="For every export: rows in = work orders loaded + rejected + superseded "
            "by a later export, against the stored rows.",
        ),
        dg.AssetCheckSpec(
            "every_export_yields_work_orders",
            asset="maintenance_log",
            description="Warns about exports that contribute no work order, with their reasons.",
        ),
    ],
)
def maintenance_log(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, landing: LandingResource
):
    with warehouse.write() as con:
        summary = load_maintenance_log(con, landing.landing_dir)
        unbalanced = unbalanced_exports(con)
        barren = exports_without_work_orders(con)
        stored = con.execute("SELECT count(*) FROM maintenance_log").fetchone()[0]
        by_kind = con.execute(
            "SELECT kind, count(*) FROM maintenance_log GROUP BY 1 ORDER BY 1"
        ).fetchall()
        reasons = con.execute(
            "SELECT reason, count(*) FROM maintenance_rejects GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        rejects = con.execute(
            """SELECT source_file, line, reason, detail FROM maintenance_rejects
               ORDER BY source_file, line NULLS FIRST LIMIT 20"""
        ).fetchall()
    context.log.info(f"maintenance log: {summary}")
    yield dg.MaterializeResult(
        metadata={
            "files": dg.MetadataValue.int(summary.files),
            "work_orders": dg.MetadataValue.int(summary.rows_loaded),
            "rejected": dg.MetadataValue.int(summary.rows_rejected),
            "superseded": dg.MetadataValue.int(summary.superseded),
            "duplicate_files": dg.MetadataValue.int(summary.duplicate_files),
            "quarantined_files": dg.MetadataValue.json(summary.quarantined),
            "by_kind": markdown_table(["kind", "work orders"], by_kind),
            "by_reason": markdown_table(["reason", "rows"], reasons),
            "rejects": markdown_table(
                ["file", "line", "reason", "detail"], rejects, total=summary.rows_rejected
            ),
        }
    )
    yield dg.AssetCheckResult(
        check_name="maintenance_rows_balance",
        passed=not unbalanced
        and summary.rows_in == summary.rows_loaded + summary.rows_rejected + summary.superseded
        and stored == summary.rows_loaded,
        metadata={
            "rows_in": dg.MetadataValue.int(summary.rows_in),
            "unbalanced": markdown_table(list(UNBALANCED_COLUMNS), unbalanced),
        },
    )
    yield dg.AssetCheckResult(
        check_name="every_export_yields_work_orders",
        passed=not barren,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "exports_without_work_orders": markdown_table(
                ["file", "status", "rows in", "reasons"], barren
            )
        },
    )


@dg.asset(
    group_name=GROUP,
    kinds={"duckdb"},
    pool=WRITER_POOL,
    partitions_def=daily_partitions,
    deps=["raw_dumps"],
    description="One UTC day of typed, SI-unit, deduplicated readings with a data-quality flag.",
    check_specs=[
        dg.AssetCheckSpec(
            "telemetry_schema", asset="telemetry", description="Columns and types as documented."
        ),
        dg.AssetCheckSpec(
            "telemetry_matches_readings",
            asset="telemetry",
            description="Every loaded reading of the day is in telemetry, none twice.",
        ),
    ],
)
def telemetry(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    day, start, end = day_bounds(context.partition_key)
    with warehouse.write() as con:
        quality = build_telemetry_day(con, day)
        schema = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'telemetry'"
            ).fetchall()
        )
        expected, distinct_keys = con.execute(
            """SELECT (SELECT count(*) FROM readings r JOIN file_ledger f
                         ON f.file_id = r.file_id AND f.status = 'loaded'
                       WHERE r.ts >= $start AND r.ts < $end),
                      (SELECT count(DISTINCT (machine_id, sensor, ts)) FROM telemetry WHERE day = $day)""",
            {"start": start, "end": end, "day": day},
        ).fetchone()
        per_machine = con.execute(
            """SELECT machine_id, count(*) AS readings, count(DISTINCT sensor) AS sensors,
                      sum((quality <> 'ok')::INT) AS flagged
               FROM telemetry WHERE day = ? GROUP BY 1 ORDER BY 1""",
            [day],
        ).fetchall()
    rows = sum(quality.values())
    yield dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(rows),
            **{f"quality_{k}": dg.MetadataValue.int(v) for k, v in quality.items()},
            "machines": dg.MetadataValue.int(len(per_machine)),
            "per_machine": markdown_table(
                ["machine", "readings", "sensors", "flagged"], per_machine
            ),
        }
    )
    yield dg.AssetCheckResult(
        check_name="telemetry_schema",
        passed=schema == TELEMETRY_COLUMNS,
        metadata={"columns": dg.MetadataValue.json(schema)},
    )
    yield dg.AssetCheckResult(
        check_name="telemetry_matches_readings",
        passed=rows == expected == distinct_keys,
        metadata={
            "telemetry_rows": dg.MetadataValue.int(rows),
            "loaded_readings": dg.MetadataValue.int(expected),
            "distinct_keys": dg.MetadataValue.int(distinct_keys),
        },
    )


ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(
        "machine_registry", "raw_dumps", "telemetry_rejects", "maintenance_log"
    ),
    description="Load what landed: registry, dumps, rejects, maintenance log.",
)


def ingested_fingerprint(instance: dg.DagsterInstance) -> str | None:
    """The landing digest the newest ``raw_dumps`` materialization started from, however it
    ran (the sensor, the UI, ``make demo`` in-process), or ``None``."""
    records = instance.fetch_materializations(dg.AssetKey("raw_dumps"), limit=1).records
    materialization = records[0].asset_materialization if records else None
    value = materialization.metadata.get(LANDING_FINGERPRINT) if materialization else None
    return value.value if value is not None else None


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="The digital shadow: starts ingestion whenever files land (or the registry changes).",
)
def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingResource):
    fingerprint, n_files = landing_fingerprint(landing.landing_dir, landing.registry_path)
    # The cursor lives in the instance; before the sensor's first run, what the last ingestion
    # (by any route) started from stands in for it.
    seen = context.cursor or ingested_fingerprint(context.instance)
    if fingerprint == seen:
        if context.cursor != fingerprint:
            context.update_cursor(fingerprint)
        return dg.SkipReason(f"no change in landing ({n_files} files) since the last ingestion")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=fingerprint, tags={"dt/landing_files": str(n_files)})
