"""Maturity of the twins, earned from what runs: each day every machine's level (model, shadow,
twin, intelligent twin) with its evidence, in the warehouse and the day's snapshot; each change
of level recorded in the ``TwinRegistry`` contract with the evidence published to IPFS.

A closed day is judged at its end, today's partition (the hourly live job) at the moment it
runs. The chain follows each machine's newest day: a run reads the levels on chain and sends a
transaction only for a machine whose level differs, so re-runs send nothing; while the chain or
IPFS is down the changes wait, reported as pending, and the next run records them.
"""

import datetime as dt
from contextlib import closing

import dagster as dg

from assets.common import WRITER_POOL, markdown_table
from assets.partitions import daily_partitions
from assets.resources import (
    ChainResource,
    ContentStoreResource,
    TwinStoreResource,
    WarehouseResource,
)
from dt_platform.config import load_settings
from dt_platform.twin.maturity import LEVELS, Windows, assess
from dt_platform.twin.maturity_chain import PENDING, UNCHANGED, record_level_changes
from dt_platform.twin.maturity_evidence import as_of_for_day, collect_facts
from dt_platform.twin.maturity_table import latest_levels, replace_maturity_day

GROUP = "twin"
WINDOWS = Windows(freshness_h=load_settings().freshness_hours)


@dg.asset(
    group_name=GROUP,
    kinds={"duckdb", "ipfs", "ethereum"},
    pool=WRITER_POOL,
    partitions_def=daily_partitions,
    # `decisions` is the policy's daily asset: judged after it (a plain key until it is defined)
    deps=["telemetry", "rul_predictions", "command_events", "decisions"],
    description="Each twin's maturity level of the day, from evidence; changes recorded on chain.",
    check_specs=[
        dg.AssetCheckSpec(
            "levels_on_chain",
            asset="twin_maturity",
            description="Every machine's newest level is the one the TwinRegistry holds "
            "(warns while changes wait for the chain or IPFS).",
        )
    ],
)
def twin_maturity(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    twin_store: TwinStoreResource,
    content_store: ContentStoreResource,
    chain: ChainResource,
):
    day = dt.date.fromisoformat(context.partition_key)
    as_of, running = as_of_for_day(day, dt.datetime.now(dt.UTC))
    with warehouse.write() as con, closing(twin_store.connect()) as twin:
        facts = collect_facts(con, twin, as_of, WINDOWS, running=running)
        assessed = [assess(f, as_of, WINDOWS) for f in facts]
        replace_maturity_day(con, day, assessed)
        latest = latest_levels(con)
    records = record_level_changes(latest, content_store.open, chain.connect)
    counts = {n: sum(a.level == n for a in assessed) for n in LEVELS}
    changed = [r for r in records if r.status not in (UNCHANGED, PENDING)]
    pending = [r for r in records if r.status == PENDING]
    for r in changed:
        context.log.info(f"{r.machine_id}: level {r.chain_level} → {r.level} ({r.tx_hash})")
    yield dg.MaterializeResult(
        metadata={
            "as_of": dg.MetadataValue.text(as_of.isoformat()),
            "machines": dg.MetadataValue.int(len(assessed)),
            **{f"level_{n}_{name.replace(' ', '_')}": counts[n] for n, name in LEVELS.items()},
            "recorded_on_chain": dg.MetadataValue.int(len(changed)),
            "pending_on_chain": dg.MetadataValue.int(len(pending)),
            "levels": markdown_table(
                ["machine", "level", "name", "missing for the next", "evidence sha256"],
                [
                    (
                        a.machine_id,
                        a.level,
                        a.level_name,
                        "; ".join(a.missing) or "–",
                        a.evidence_sha256[:16],
                    )
                    for a in assessed[:50]
                ],
                total=len(assessed),
            ),
            "chain": markdown_table(
                ["machine", "level", "on chain before", "status", "cid", "tx"],
                [
                    (r.machine_id, r.level, r.chain_level, r.status, r.cid, r.tx_hash)
                    for r in [*changed, *pending][:50]
                ],
                total=len(changed) + len(pending),
            ),
        }
    )
    detail = (
        f"{len(pending)} level change(s) wait: {pending[0].error}; the next run records them"
        if pending
        else f"{len(records)} twin(s) match the chain ({len(changed)} recorded in this run)"
    )
    yield dg.AssetCheckResult(
        check_name="levels_on_chain",
        passed=not pending,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"detail": dg.MetadataValue.text(detail)},
    )
