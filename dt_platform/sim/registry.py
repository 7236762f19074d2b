"""The simulated line's machines and the first version of the registry (``machines.yaml``).

The registry is the digital model a person maintains: identity, type, line, gateway, install
date, vendor/model and nominal (datasheet) ratings. The true, randomly drawn physical parameters
are NOT in it; they go to the ground truth only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from dt_platform.sim.config import SimConfig, rng_for
from dt_platform.sim.files import atomic_write_bytes
from dt_platform.sim.gateways import GATEWAYS
from dt_platform.sim.machines import MODELS, MachineModel, Params
from dt_platform.sim.schedule import OperatingPlan, make_plan

TYPE_ORDER: tuple[str, ...] = ("smt_placer", "reflow_oven", "cnc_spindle", "servo_drive")
COARSE_DT_S = 600
"""Time step of the unobserved parts of a run (component history before the start, RUL horizon)."""


@dataclass(frozen=True)
class MachineSpec:
    """One simulated machine: registry identity plus its true parameters and operating plan."""

    index: int
    machine_id: str
    type: str
    line: str
    gateway: str
    installed: date
    vendor: str
    model_name: str
    params: Params
    products: dict[str, np.ndarray]
    plan: OperatingPlan
    component_installed_s: int
    """When the component in service at the start was installed (before the start)."""

    @property
    def model(self) -> MachineModel:
        return MODELS[self.type]

    def registry_entry(self) -> dict[str, Any]:
        return {
            "machine_id": self.machine_id,
            "type": self.type,
            "line": self.line,
            "gateway": self.gateway,
            "installed": self.installed.isoformat(),
            "vendor": self.vendor,
            "model": self.model_name,
            "rated": self.model.rated(self.params),
        }


def build_machines(config: SimConfig) -> list[MachineSpec]:
    """Draw the line: machine i has type ``TYPE_ORDER[i % 4]``, line ``L{i//4+1}``, gateway i % 3."""
    start = config.start_epoch_s()
    end = config.end_epoch_s()
    plan_end = end + (config.rul_horizon_days + 2) * 86400
    counters: dict[str, int] = {}
    specs = []
    for i in range(config.machines):
        mtype = TYPE_ORDER[i % len(TYPE_ORDER)]
        model = MODELS[mtype]
        counters[mtype] = counters.get(mtype, 0) + 1
        width = 2 if config.machines < 400 else 3
        machine_id = f"{model.prefix}-{counters[mtype]:0{width}d}"
        rng = rng_for(config.seed, 1, i)
        params, products = model.draw_machine(rng)
        vendor, model_name = model.vendors[int(rng.integers(0, len(model.vendors)))]
        installed_days = int(rng.integers(200, 1500))
        warmup_steps = int(rng.integers(0, config.warmup_days_max * 86400 // COARSE_DT_S + 1))
        component_installed = start - warmup_steps * COARSE_DT_S
        n_products = len(next(iter(products.values())))
        plan = make_plan(
            rng_for(config.seed, 2, i), n_products, component_installed - 86400, plan_end
        )
        installed = datetime.fromtimestamp(start, UTC).date().toordinal() - installed_days
        specs.append(
            MachineSpec(
                index=i,
                machine_id=machine_id,
                type=mtype,
                line=f"L{i // 4 + 1}",
                gateway=GATEWAYS[i % len(GATEWAYS)].name,
                installed=date.fromordinal(installed),
                vendor=vendor,
                model_name=model_name,
                params=params,
                products=products,
                plan=plan,
                component_installed_s=component_installed,
            )
        )
    return specs


def _plain(value: Any) -> Any:
    """YAML-safe scalars: numpy numbers to Python, floats rounded so the file stays readable."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return int(value) if value.is_integer() else round(value, 4)
    return value


def registry_document(specs: list[MachineSpec]) -> dict[str, Any]:
    return {"machines": [_plain(s.registry_entry()) for s in specs]}


def write_registry(specs: list[MachineSpec], path: Path) -> Path:
    """Write ``machines.yaml`` (format of docs/dumps.md) atomically."""
    header = (
        "# Machine registry (digital model) — first version written by `dt-platform simulate`.\n"
        "# Edit by hand as the line changes; 'rated' holds nominal datasheet values.\n"
    )
    text = header + yaml.safe_dump(
        registry_document(specs), sort_keys=False, allow_unicode=True, width=100
    )
    atomic_write_bytes(path, text.encode("utf-8"))
    return path
