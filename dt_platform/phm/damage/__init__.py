"""Damage of the component in service and its physics RUL, per machine and hour.

For each machine and each hour ``ts`` (the end of the hour; only data before ``ts`` is used):

* **exposure** E — the component's used-up life since its installation (Miner's rule with the
  fitted law, :mod:`dt_platform.phm.physics`): observed hours from their readings, hours without
  readings inside a work-order window as zero, other silent hours at the trailing-week rate, and
  the part of life before the first telemetry at the machine's first-week profile
  (:mod:`dt_platform.phm.episodes`) — before the machine has a week, its hours so far each
  divided by the type's rate at that hour of the day (:mod:`dt_platform.phm.fitting.clock`);
* **damage** D = E / η with η the fitted median life, so D = 1 at the median failure;
* **remaining damage** — the *median remaining life given survival so far*: 1 − D while D ≪ 1,
  but it stays positive for a unit that has outlived the median instead of turning negative;
* **RUL_phys** in hours: the remaining exposure is spent by **replaying the machine's last
  operating week** hour by hour (its shifts, weekends and products; maintenance stops skipped).
  For long horizons this is remaining damage / weekly mean rate; near failure it knows that a
  Friday-evening machine stands still over the weekend. A machine with less than a week of data
  replays what it has, scaled to average hours of the type's day (a first day shift does not
  stand for every shift). ``damage_rate_per_h`` is the mean rate
  over that predicted remaining life, so ``rul = (remaining damage) / rate`` holds;
* a **90 % interval** from Monte-Carlo draws of (a) the fitted parameters (held ones from their
  literature prior), (b) the life of this unit conditional on its survival to E, and (c) the
  future operating rate: the machine's own week-to-week variability of exposure (log sd over
  non-overlapping weeks, :data:`DEFAULT_WEEKLY_LOG_SD` until it has three weeks of data), shrunk
  for long horizons as future weeks average out.

**cnc spindle** — two stages. Before spall initiation, the ISO 281 law above (fitted on failures,
so it includes the short growth stage). Once the hourly production vibration departs from the
component's own baseline (:func:`~dt_platform.phm.fitting.spall_onsets`), Paris growth takes
over (until the vibration is back at the baseline for hours: a spall never heals, so such a
departure — a sensor stuck high — is withdrawn, and stage 1 resumes): the vibration excess y is linearized (y^(1−m/2) is straight in Σ Mrev·(P/C)^m), fitted by
OLS with HAC errors and extrapolated to the ISO 10816-3 C/D limit of 4.5 mm/s, for m at five
quantiles of its literature prior (m is not identifiable from a few hours of growth). Until that
trend is significant, the fleet's observed onset-to-failure exposures are the prior. Damage then
runs from its value at onset to 1 at the extrapolated failure. Limitation: a component whose
spall began before its first telemetry gets an already-raised baseline, and its growth is
under-read.
"""

from dt_platform.phm.damage.replay import (
    DEFAULT_WEEKLY_LOG_SD,
    MIN_HORIZON_H,
    MIN_WEEKS_FOR_SD,
    RATE_WINDOW_H,
)
from dt_platform.phm.damage.residual import INTERVAL, N_DRAWS
from dt_platform.phm.damage.rows import M_QUANTILES
from dt_platform.phm.damage.schemas import STATE_SCHEMA, TRAJECTORY_SCHEMA
from dt_platform.phm.damage.spall import STAGE2_MAX_DAMAGE_AT_ONSET
from dt_platform.phm.damage.state import DISPLAY_WINDOW_H, physics_state
from dt_platform.phm.damage.trajectory import damage_trajectory, machine_trajectory

__all__ = [
    "DEFAULT_WEEKLY_LOG_SD",
    "DISPLAY_WINDOW_H",
    "INTERVAL",
    "MIN_HORIZON_H",
    "MIN_WEEKS_FOR_SD",
    "M_QUANTILES",
    "N_DRAWS",
    "RATE_WINDOW_H",
    "STAGE2_MAX_DAMAGE_AT_ONSET",
    "STATE_SCHEMA",
    "TRAJECTORY_SCHEMA",
    "damage_trajectory",
    "machine_trajectory",
    "physics_state",
]
