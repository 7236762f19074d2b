"""The phone-line simulator: the physical side for demos, tests and benchmarks.

N machines of four types degrade by their own physics (``machines``), run by shifts and
product mix (``schedule.py``), fail, get repaired and maintained (``line.py``,
``maintenance.py``), are observed by imperfect sensors (``sensors.py``) and send dumps through
three gateways (``gateways.py``) in three formats (``dumps``). Ground truth goes apart
(``truth.py``).

Lives are accelerated so that a 30-60-day run holds failures (see ``machines``).

    from dt_platform.sim import SimConfig, simulate_line
    result = simulate_line(SimConfig(machines=12, days=30, seed=7), "landing")
"""

from dt_platform.sim.config import Command, SimConfig
from dt_platform.sim.simulate import SimResult, simulate_line

__all__ = ["Command", "SimConfig", "SimResult", "simulate_line"]
