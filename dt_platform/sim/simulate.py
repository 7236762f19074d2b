"""``simulate_line``: the whole simulator, from settings to dumps, registry and ground truth."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dt_platform.sim.config import Command, SimConfig, rng_for
from dt_platform.sim.dumps import write_dumps
from dt_platform.sim.line import run_machine
from dt_platform.sim.maintenance import write_cmms
from dt_platform.sim.registry import build_machines, write_registry
from dt_platform.sim.sensors import apply_sensor_model
from dt_platform.sim.truth import write_truth


@dataclass(frozen=True)
class SimResult:
    """Summary of a run. Paths of dumps are relative to ``out_dir``."""

    out_dir: Path
    truth_dir: Path
    registry_path: Path
    machines: int
    steps: int
    readings: int
    """Sensor readings delivered (each once; duplicates and re-deliveries not counted)."""
    dump_files: tuple[str, ...]
    data_lines: int
    """Data lines / rows written into dumps, duplicates included."""
    failures: int
    """Failures inside the observed window."""
    machines_failed: int
    work_orders: int
    bad_items: int
    """Injected bad input (non-numeric, NaN/inf, unknown tags, broken lines, naive timestamps)."""
    implausible_spikes: int
    """Sensor spikes outside the catalogue's plausible range (to be rejected as out of range)."""
    duplicate_lines: int
    duplicate_files: int
    backfill_files: int
    faults: dict[str, int] = field(default_factory=dict)

    def as_record(self) -> dict[str, object]:
        return {
            "machines": self.machines,
            "steps": self.steps,
            "readings": self.readings,
            "dump_files": len(self.dump_files),
            "data_lines": self.data_lines,
            "failures": self.failures,
            "machines_failed": self.machines_failed,
            "work_orders": self.work_orders,
            "bad_items": self.bad_items,
            "implausible_spikes": self.implausible_spikes,
            "duplicate_lines": self.duplicate_lines,
            "duplicate_files": self.duplicate_files,
            "backfill_files": self.backfill_files,
            "faults": dict(sorted(self.faults.items())),
        }


def _check_layout(out_dir: Path, truth_dir: Path, registry_path: Path) -> None:
    out = out_dir.resolve()
    if truth_dir.resolve() == out or truth_dir.resolve().is_relative_to(out):
        raise ValueError(
            f"ground truth folder {truth_dir} is inside the dump folder {out_dir}: the platform "
            "would ingest it. Choose --truth outside --out (default: <out>/../ground_truth)."
        )
    if registry_path.resolve().is_relative_to(out):
        raise ValueError(
            f"registry {registry_path} is inside the dump folder {out_dir}; "
            "choose --registry outside --out (default: <out>/../machines.yaml)."
        )


def simulate_line(
    config: SimConfig,
    out_dir: Path | str,
    truth_dir: Path | str | None = None,
    registry_path: Path | str | None = None,
    commands: Sequence[Command] = (),
) -> SimResult:
    """Simulate the line and write dumps to ``out_dir/<gateway>/``, the CMMS export to
    ``out_dir/cmms/``, the registry and the ground truth (defaults: beside ``out_dir``).

    Same config (with an explicit ``start``) and commands give byte-identical files.
    """
    out_dir = Path(out_dir)
    truth_dir = Path(truth_dir) if truth_dir is not None else out_dir.parent / "ground_truth"
    registry_path = (
        Path(registry_path) if registry_path is not None else out_dir.parent / "machines.yaml"
    )
    _check_layout(out_dir, truth_dir, registry_path)
    start_s, end_s = config.start_epoch_s(), config.end_epoch_s()

    specs = build_machines(config)
    runs = [run_machine(spec, config, commands) for spec in specs]
    observed = [
        apply_sensor_model(run, config.interval_s, config.fault_scale, rng_for(config.seed, 6, i))
        for i, run in enumerate(runs)
    ]
    files, injected = write_dumps(runs, observed, config, out_dir)
    work_orders = [w for run in runs for w in run.work_orders]
    _, numbered = write_cmms(work_orders, out_dir, start_s, end_s)
    write_registry(specs, registry_path)

    faults = [f for o in observed for f in o.faults]
    in_window = [f for run in runs for f in run.failures if start_s <= f.failed_s < end_s]
    kinds = Counter(i.kind for i in injected)
    result = SimResult(
        out_dir=out_dir,
        truth_dir=truth_dir,
        registry_path=registry_path,
        machines=len(specs),
        steps=int(runs[0].t.size),
        readings=sum(o.readings() for o in observed),
        dump_files=tuple(f.file for f in files),
        data_lines=sum(f.data_lines for f in files if f.kind != "redelivery"),
        failures=len(in_window),
        machines_failed=len({f.machine_id for f in in_window}),
        work_orders=len(numbered),
        bad_items=sum(
            n for k, n in kinds.items() if not k.startswith("duplicate_") and k != "out_of_range"
        ),
        implausible_spikes=kinds.get("out_of_range", 0),
        duplicate_lines=kinds.get("duplicate_line", 0),
        duplicate_files=kinds.get("duplicate_file", 0),
        backfill_files=sum(1 for f in files if f.kind == "backfill"),
        faults=dict(Counter(f.kind for f in faults)),
    )
    record = {"config": config.as_record(), "summary": result.as_record()}
    write_truth(truth_dir, runs, faults, injected, files, numbered, start_s, end_s, record)
    return result
