"""The landing sensor after an ingestion it did not start (`make demo` ingests in-process before
the UI and its daemon run): its first tick sees nothing new, and the cursor it then keeps in the
instance moves on only when landing changes."""

import datetime as dt
import json
from pathlib import Path

import dagster as dg

from assets import ingestion
from assets.resources import platform_resources
from dt_platform.config import Settings
from dt_platform.ingest.fingerprint import landing_fingerprint
from dt_platform.sim import SimConfig, simulate_line


def test_the_first_tick_after_an_ingestion_without_the_sensor_sees_nothing_new(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    simulate_line(
        SimConfig(machines=4, days=1, seed=5, start=dt.date(2026, 3, 2), interval_s=600),
        home / "landing",
        truth_dir=home / "ground_truth",
        registry_path=home / "machines.yaml",
    )
    settings = Settings(home=home)
    resources = platform_resources(settings)
    with dg.instance_for_test() as instance:
        # no ingestion yet: the first tick asks for one
        ctx = dg.build_sensor_context(instance=instance, resources=resources)
        assert isinstance(ingestion.landing_sensor(ctx), dg.RunRequest)

        result = dg.materialize(
            [ingestion.machine_registry, ingestion.raw_dumps, ingestion.maintenance_log],
            resources=resources,
            instance=instance,
        )
        assert result.success
        fingerprint, _ = landing_fingerprint(settings.landing_dir, settings.machine_registry_path)
        assert ingestion.ingested_fingerprint(instance) == fingerprint

        # the daemon's first tick (no cursor yet) after that in-process ingestion
        ctx = dg.build_sensor_context(instance=instance, resources=resources)
        first = ingestion.landing_sensor(ctx)
        assert isinstance(first, dg.SkipReason), first
        assert ctx.cursor == fingerprint  # kept by the daemon in the instance from now on

        ctx = dg.build_sensor_context(instance=instance, cursor=ctx.cursor, resources=resources)
        assert isinstance(ingestion.landing_sensor(ctx), dg.SkipReason)

        late = home / "landing" / "gw-late" / "late.jsonl"
        late.parent.mkdir()
        late.write_text(
            json.dumps(
                {
                    "ts": "2026-03-02T12:00:00Z",
                    "machine": "SMT-01",
                    "sensor": "vacuum",
                    "value": 70,
                    "unit": "kPa",
                }
            )
            + "\n"
        )
        ctx = dg.build_sensor_context(instance=instance, cursor=ctx.cursor, resources=resources)
        request = ingestion.landing_sensor(ctx)
        assert isinstance(request, dg.RunRequest) and ctx.cursor != fingerprint
