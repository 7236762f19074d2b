"""Degradation physics of the four simulated machine types.

Each type is a :class:`MachineModel`: pure functions of (machine parameters, component
parameters, state, stress, dt). The run loop (``line.py``) asks a model for the operating stress
of a block of time steps, advances the state over the block in one vectorized call
(:meth:`MachineModel.advance`), finds the failure step, and asks for the noise-free sensor values.
A block ends wherever something outside the machine changes its stress (maintenance, a command),
which is how commands from the platform will act.

Damage laws, with literature values drawn per machine, one module per type (each one's docstring
gives its law): ``smt_placer`` (nozzle wear), ``reflow_oven`` (heater oxidation),
``cnc_spindle`` (bearing spall initiation and growth), ``servo_drive`` (IGBT bond-wire fatigue).
``base`` holds what every type provides, ``models`` every type by name.

Accelerated life: the damage constants are set so that a machine at typical stress lives about
2-6 weeks (median ≈ 25-40 days per type), so that a 30-60-day run holds failures, repairs and
survivors. The exponents and activation energies — what the platform fits — keep their
literature values; only scale constants are chosen for the demo: SMT nozzle critical wear
volume ≈ 0.08 mm³ (real nozzle sets last months), oven oxidation rate 1.8e-3 /h of resistance
rise at a 560 °C element (real elements last years), spindle bearing L10 divided by
``CNC_LIFE_ACCELERATION`` = 1.8, IGBT LESIT prefactor A ≈ 780 (Held et al. 1997: 640 — hardly
accelerated: the servo is stressed by frequent moves at ΔTj ≈ 40-50 K).
"""

from dt_platform.sim.machines.base import K_B_EV, ZERO_C_K, MachineModel, Params
from dt_platform.sim.machines.models import MODELS

__all__ = [
    "K_B_EV",
    "MODELS",
    "ZERO_C_K",
    "MachineModel",
    "Params",
]
