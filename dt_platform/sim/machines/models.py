"""Every simulated machine type by its name in the catalogue."""

from __future__ import annotations

from dt_platform.sim.machines.base import MachineModel
from dt_platform.sim.machines.cnc_spindle import CncSpindle
from dt_platform.sim.machines.reflow_oven import ReflowOven
from dt_platform.sim.machines.servo_drive import ServoDrive
from dt_platform.sim.machines.smt_placer import SmtPlacer

MODELS: dict[str, MachineModel] = {
    m.type_name: m for m in (SmtPlacer(), ReflowOven(), CncSpindle(), ServoDrive())
}
