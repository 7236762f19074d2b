"""The intelligent twin's decisions: each day (and each hour of today, in the live job) the policy
decides on every machine's latest prediction; decisions are kept in the twin store with their
lifecycle (MAINTAINERs approve advisory ones on the dashboard) and copied to the warehouse table
``decisions``, a source of the day's audit snapshot.

Autonomous mode needs MANAGER-signed limits in the twin store and the platform's OPERATOR key
(``DT_CHAIN_KEY``; on the local dev chain the dev OPERATOR): the chain is asked only when such
limits exist, and when it cannot be reached every decision stays advisory (said in the log).
The production plan and the costs are the platform's own configuration
(``DT_HOME/production_plan.yaml``, ``DT_HOME/costs.yaml``; defaults when absent).
"""

import datetime as dt
from contextlib import closing
from pathlib import Path

import dagster as dg

from assets.common import WRITER_POOL, markdown_table
from assets.partitions import daily_partitions, day_bounds
from assets.resources import ChainResource, LandingResource, TwinStoreResource, WarehouseResource
from dt_platform.ingest.registry import RegistryError, load_registry
from dt_platform.phm import tables
from dt_platform.trust.chain import ChainError, ChainUnavailable
from dt_platform.twin.costs import load_costs
from dt_platform.twin.decisions import Autonomy, decide_day, write_decisions_table
from dt_platform.twin.limits_store import current_limits
from dt_platform.twin.production_plan import load_plan
from dt_platform.twin.typed_data import command_domain

PLAN_FILE = "production_plan.yaml"
COSTS_FILE = "costs.yaml"


def _autonomy(context: dg.AssetExecutionContext, chain: ChainResource, twin, now: dt.datetime):
    limits = current_limits(twin, now)
    if limits is None:
        return None
    try:
        client = chain.connect()
    except (ChainUnavailable, ChainError) as exc:
        context.log.warning(
            f"MANAGER limits exist but the chain cannot be reached: advisory ({exc})"
        )
        return None
    if client.account is None:
        context.log.warning(
            "MANAGER limits exist but no OPERATOR key is set (DT_CHAIN_KEY): advisory"
        )
        return None
    return Autonomy(limits, client.account, client, command_domain(client))


@dg.asset(
    group_name="twin",
    kinds={"sqlite", "duckdb", "python"},
    pool=WRITER_POOL,
    partitions_def=daily_partitions,
    deps=["rul_predictions", "maintenance_alerts"],
    description="The policy's decision per machine on its latest prediction (least expected "
    "cost: nothing, inspect, derate, maintain at the stop or now), advisory or autonomous.",
)
def decisions(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    twin_store: TwinStoreResource,
    landing: LandingResource,
    chain: ChainResource,
) -> dg.MaterializeResult:
    day, _start, _end = day_bounds(context.partition_key)
    home = Path(chain.home)
    plan = load_plan(home / PLAN_FILE)
    costs, capacity = load_costs(home / COSTS_FILE)
    try:
        registry = load_registry(landing.registry_path)
    except RegistryError as exc:
        context.log.warning(f"no machine registry, so no command can be issued: {exc}")
        registry = []
    with warehouse.read() as con:
        predictions = tables.read_day(con, "rul_predictions", day)
    now = dt.datetime.now(dt.UTC)
    with closing(twin_store.connect()) as twin:
        autonomy = _autonomy(context, chain, twin, now)
        run = decide_day(
            twin, predictions, registry=registry, now=now, plan=plan, costs=costs,
            capacity=capacity, autonomy=autonomy,
        )  # fmt: skip
        with warehouse.write() as con:
            rows = write_decisions_table(con, twin, day)
    for note in run.notes:
        context.log.info(note)
    acting = [r for r in run.records if r.action != "nothing"]
    return dg.MaterializeResult(
        metadata={
            "decisions": dg.MetadataValue.int(rows),
            "actions": dg.MetadataValue.json(run.actions),
            "expected_cost_avoided": dg.MetadataValue.float(round(run.cost_avoided, 2)),
            "currency": costs.currency,
            "mode": "autonomous within MANAGER limits" if autonomy else "advisory",
            "advised": dg.MetadataValue.int(sum(r.status == "advised" for r in run.records)),
            "commanded": dg.MetadataValue.int(sum(r.status == "commanded" for r in run.records)),
            "no_prediction": dg.MetadataValue.json(run.skipped),
            "under_repair": dg.MetadataValue.json(run.under_repair),
            "acting": markdown_table(
                ["machine", "action", "derate %", "status", "mode", "reason"],
                [
                    (r.machine_id, r.action, r.derate_pct, r.status, r.mode, r.reason[:160])
                    for r in acting[:30]
                ],
                total=len(acting),
            ),
            "note": "expected costs rest on the costs in DT_HOME/costs.yaml (a manager's "
            "assumptions) and the plan in DT_HOME/production_plan.yaml",
        }
    )
