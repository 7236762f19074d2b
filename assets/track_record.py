"""The track record of every model version: on the day the maintenance log ends a component's
life (a failure, or a planned replacement), the predictions made during that life are scored
against it and the summary per model version, type and lead band is published; both go into
that day's audit snapshot, so a SUPPLIER or AUDITOR can recompute it from anchored records
(``dt-platform track-record --verify``)."""

import dagster as dg

from assets.common import WRITER_POOL, frame_table
from assets.models import GROUP
from assets.partitions import daily_partitions, day_bounds
from assets.resources import WarehouseResource
from dt_platform.phm.track_record_table import score_day, write_day


@dg.asset(
    group_name=GROUP,
    kinds={"duckdb", "polars"},
    pool=WRITER_POOL,
    partitions_def=daily_partitions,
    deps=["rul_predictions", "maintenance_alerts", "maintenance_log"],
    description="Predictions of the component lives the maintenance log closes that day, scored "
    "against the failure or removal; the summary per model version, type and lead band.",
)
def track_record(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    day, _start, _end = day_bounds(context.partition_key)
    with warehouse.read() as con:
        scores = score_day(con, day)
    with warehouse.write() as con:
        summary = write_day(con, day, scores)
    lives = scores.select("machine_id", "ended_at", "end_kind", "work_order").unique()
    overall = summary.filter(summary["lead_band"] == "all") if summary.height else summary
    return dg.MaterializeResult(
        metadata={
            "scored_predictions": dg.MetadataValue.int(scores.height),
            "lives_closed": dg.MetadataValue.int(lives.height),
            "failures": dg.MetadataValue.int(int((lives["end_kind"] == "failure").sum())),
            "summary_rows": dg.MetadataValue.int(summary.height),
            "lives": frame_table(lives.sort("machine_id")),
            "summary": frame_table(
                overall.select(
                    "model_version",
                    "machine_type",
                    "lives",
                    "predictions",
                    "coverage_90",
                    "rmse_h",
                    "warned",
                    "failures",
                    "mean_lead_h",
                    "false_alarm_share",
                )
                if overall.height
                else overall
            ),
        }
    )
