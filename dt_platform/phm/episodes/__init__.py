"""Run-to-failure episodes: the lives of degrading components, read from the warehouse.

A life (an :class:`Episode`) starts when the degrading component of a machine was put in service
— the ``finished_at`` of a work order that replaced it — and ends with

* a **failure**: a corrective work order on that component. The failure itself happened before
  the repair started; its time is estimated as the last reading with the machine operating before
  ``started_at`` (at most :data:`FAILURE_LOOKBACK_H` earlier), else ``started_at``;
* a **removal**: a preventive replacement of a working component (right-censored);
* **censoring**: still in service at the end of the history.

Only lives whose start is in the maintenance log are used for fitting. A component with no logged
installation (the log starts after it) has an unknown age; the damage state then assumes it came
with the machine (registry ``installed``) or, without that date, new at the first reading, and
says so (``install_source``).

**Stress.** Telemetry is read with ``quality = 'ok'`` only. Each reading becomes a point of the
machine type's :class:`~dt_platform.phm.physics.DamageLaw`: a throughput weight (hours powered,
sliding distance, revolutions, power cycles) and the stress variables of the damage kernel. Per
machine and hour, readings are averaged (each of the n readings of an hour weighs 1/n hour), and
stress points are rounded to a fine grid and pooled: a sparse matrix hours × stress points from
which the exposure of any hour, for any law parameters, is one matrix product.

**Hours without readings.** Inside a work-order window (the machine stopped for maintenance or
repair) they count as zero exposure. Anywhere else the machine may well have been running while
its gateway was silent, so they get the machine's typical exposure rate: for fitting, the mean
over the life's own observed hours; for the damage trajectory, the trailing week
(:mod:`dt_platform.phm.damage`).

**Left truncation.** A component installed before the machine's first telemetry has an
unobserved early life. Its stress then is unknown; we assume the machine ran the operating
profile of its first :data:`PROFILE_HOURS` hours of data (same products, same shifts), minus the
logged maintenance stops, and record how many hours were imputed (``imputed_hours``). Lives that
began and ended before the data (failures in the log's early part) are kept with fully imputed
stress: they carry true life information, and the imputation assumption is stated in the fit
record (``n_imputed``). The fitting can drop them (``min_observed_fraction``).
"""

from dt_platform.phm.episodes.history import History, load_history
from dt_platform.phm.episodes.hours import HOUR_S, hour_to_datetime
from dt_platform.phm.episodes.lives import (
    IMPUTATION_LOG_SD,
    PROFILE_HOURS,
    Episode,
    LifeRecord,
    downtime_hours,
    episode_of,
    episodes,
    episodes_frame,
    profile_vector,
)
from dt_platform.phm.episodes.services import FAILURE_LOOKBACK_H, Service, services
from dt_platform.phm.episodes.stress import (
    HAMPEL_MIN_REL,
    HAMPEL_SDS,
    MIN_PRODUCTION_READINGS,
    MachineInfo,
    MachineStress,
    build_machine_stress,
    hampel_clip,
)

__all__ = [
    "FAILURE_LOOKBACK_H",
    "HAMPEL_MIN_REL",
    "HAMPEL_SDS",
    "HOUR_S",
    "IMPUTATION_LOG_SD",
    "MIN_PRODUCTION_READINGS",
    "PROFILE_HOURS",
    "Episode",
    "History",
    "LifeRecord",
    "MachineInfo",
    "MachineStress",
    "Service",
    "build_machine_stress",
    "downtime_hours",
    "episode_of",
    "episodes",
    "episodes_frame",
    "hampel_clip",
    "hour_to_datetime",
    "load_history",
    "profile_vector",
    "services",
]
