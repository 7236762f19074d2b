"""The twin's signed commands in the day's audit: every command event of the day (signatures,
transitions, acknowledgements) copied from the twin store into the warehouse before the day's
snapshot is built, where the ``command_events`` snapshot source makes each one a record."""

import datetime as dt

import dagster as dg

from assets.common import WRITER_POOL
from assets.partitions import daily_partitions
from assets.resources import TwinStoreResource, WarehouseResource
from dt_platform.twin.command_audit import copy_command_events


@dg.asset(
    group_name="twin",
    kinds={"sqlite", "duckdb"},
    pool=WRITER_POOL,
    partitions_def=daily_partitions,
    deps=["decisions"],  # after the commands the day's decisions sent
    description="The day's command events (signatures, transitions, acks) from the twin store.",
)
def command_events(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, twin_store: TwinStoreResource
) -> dg.MaterializeResult:
    day = dt.date.fromisoformat(context.partition_key)
    twin = twin_store.connect()
    try:
        with warehouse.write() as con:
            copied = copy_command_events(twin, con, day)
    finally:
        twin.close()
    return dg.MaterializeResult(metadata={"events": dg.MetadataValue.int(copied)})
