"""``dt-platform simulate``: run the phone-line simulator from the command line."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from dt_platform.config import load_settings
from dt_platform.sim.config import SimConfig
from dt_platform.sim.simulate import simulate_line


@click.command("simulate")
@click.option(
    "--machines",
    type=click.IntRange(min=1, max=1000),
    default=12,
    show_default=True,
    help="Number of machines (types rotate: SMT, OVEN, CNC, SERVO).",
)
@click.option(
    "--days",
    type=click.IntRange(min=1, max=3660),
    default=30,
    show_default=True,
    help="Days to simulate.",
)
@click.option("--seed", type=click.IntRange(min=0), default=7, show_default=True)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Dump folder (gateways write into <out>/<gateway>/). Default: $DT_HOME/landing.",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="First day (UTC). Default: today (UTC) minus --days.",
)
@click.option(
    "--interval-s",
    type=int,
    default=60,
    show_default=True,
    help="Sampling interval in seconds; must divide 3600.",
)
@click.option(
    "--truth",
    "truth_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Ground-truth folder. Default: <out>/../ground_truth.",
)
@click.option(
    "--registry",
    "registry_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Machine registry to write. Default: <out>/../machines.yaml.",
)
@click.option(
    "--bad-rate",
    type=click.FloatRange(0.0, 0.1),
    default=2e-4,
    show_default=True,
    help="Probability per reading of a bad item in the dumps (0 disables).",
)
def simulate(
    machines: int,
    days: int,
    seed: int,
    out_dir: Path | None,
    start: datetime | None,
    interval_s: int,
    truth_dir: Path | None,
    registry_path: Path | None,
    bad_rate: float,
) -> None:
    """Simulate a phone production line and write its sensor dumps, CMMS log and registry.

    Same arguments (with --start) give byte-identical files. Ground truth (true damage, RUL,
    failures, injected faults) goes to --truth, never into --out.
    """
    if out_dir is None:
        out_dir = load_settings().landing_dir
    try:
        config = SimConfig(
            machines=machines,
            days=days,
            seed=seed,
            start=start.date() if start else None,
            interval_s=interval_s,
            bad_rate=bad_rate,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    console = Console(stderr=False)
    began = time.perf_counter()
    try:
        result = simulate_line(config, out_dir, truth_dir, registry_path)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    elapsed = time.perf_counter() - began

    table = Table(
        title=f"simulated {config.days} days from {config.resolved_start()}", show_header=False
    )
    rows = [
        ("machines", f"{result.machines}"),
        ("readings", f"{result.readings:,} ({result.steps:,} steps of {config.interval_s} s)"),
        ("dump files", f"{len(result.dump_files)} in {result.out_dir}"),
        ("failures", f"{result.failures} on {result.machines_failed} machines"),
        ("work orders", f"{result.work_orders} in {result.out_dir / 'cmms'}"),
        ("bad items", f"{result.bad_items} (+ {result.implausible_spikes} implausible spikes)"),
        ("duplicates", f"{result.duplicate_lines} lines, {result.duplicate_files} files"),
        ("backfill files", f"{result.backfill_files}"),
        ("registry", f"{result.registry_path}"),
        ("ground truth", f"{result.truth_dir}"),
        ("time", f"{elapsed:.1f} s"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
