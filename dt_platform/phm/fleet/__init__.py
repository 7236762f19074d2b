"""The hybrid RUL model on the simulated phone line: hourly dataset, training, prediction.

The physics branch (:mod:`~dt_platform.phm.damage`) already gives, per machine and hour, the
damage of the component in service and a physics RUL with a 90 % interval. This module adds the
data branch and the fusion for the fleet, on the same hourly grid:

1. **Hourly signals** (:func:`hourly_signals`): per machine and hour, the mean of every monitored
   sensor over the readings taken while the machine *operates* (``quality = 'ok'`` only), the
   share of operating readings and their count. Idle readings are left out: a stopped spindle
   vibrates at 0.1 mm/s whatever its bearing, so averaging them in would hide the wear.
2. **Base rows** (:func:`assemble_base`): a row per machine and hour (``ts`` = end of the hour,
   every value from data before ``ts``), the hourly signals joined with the physics trajectory
   and the install time of the component in service. This is the ``ml_features`` table.
3. **Features** (:class:`FleetFeaturizer`): per machine type, sensors are standardized per
   operating regime (products / setpoints found by clustering the setting sensors,
   :class:`~dt_platform.phm.features.SensorNormalizer`) and turned into trailing features per
   component life — rolling means over 6 h, 24 h and a week of operating hours, exponential
   smoothing, 24 h / week / whole-life slopes and the drift from the life's first day — by
   :func:`~dt_platform.phm.features.build_features`. A **health indicator** per type (the
   fraction of the failure limit reached: placement offset / 60 µm, 45 kPa / vacuum, heater duty /
   100 %, vibration / 4.5 mm/s, Vce(on) rise / 5 %) gets the same treatment. Sensor features are
   taken as of the last operating hour (a machine standing still over the weekend keeps its last
   reading), and the hours since then are a feature. The physics damage, rate and RUL (with its
   interval), the time since the component was installed, utilization and the machine type
   complete the row. One XGBoost model serves all types: lives are few per type, and the physics
   and health-indicator features mean the same thing on every type.
4. **Target** (:func:`label_rows`): hours to the next failure of the component in service, from
   the maintenance log (the failure time is the last operating hour before the corrective work
   order, :func:`~dt_platform.phm.episodes.services`), capped piecewise-linear at ``cap_h``. A life
   still running (or removed before failing) is censored at the end of the history: its rows count
   only where the time to censoring is at least the cap, because there the capped target is known
   exactly. Hours between a failure and the end of its repair have no target.
5. **Validation by machine**: folds hold out whole machines (every life of a machine together,
   stratified by type), never random rows. The physics branch is refitted without each fold's
   machines, so its out-of-fold RUL is what the physics says about a machine it never saw — the
   same footing as the data branch's out-of-fold predictions.
6. **Fusion**: :class:`~dt_platform.phm.fusion.Fuser` (stacking whose weights vary with the data
   branch's estimate) is fitted on out-of-fold rows of lives that ended in a failure, with true
   RUL ≤ ``horizon_h``, and cross-fitted by machine for its 90 % interval. The physics estimate
   enters clipped at 1.5 × the horizon: a damage law fitted on a few lives can be off by
   thousands of hours on a machine it never saw, and a linear stack must not follow it there.
   One fuser serves all types (per-type weights overfit a handful of lives). Fitted for the
   horizon, the fused value is a *lower* estimate for a component far from failure. Where one
   branch has nothing to say (a type without a usable damage law, no rul model yet) the other
   branch is reported as the fused value, and ``basis`` says so.
7. **Held-out decisions** (:mod:`.calibration`, :mod:`.alerting`): the fuser is refitted without
   each fold, so every training row also gets a fused value from a model that never saw its
   machine. On those rows (within the horizon, lives that failed), per machine type, a branch
   that beats the fusion machine by machine beyond chance (:mod:`dt_platform.phm.evidence`)
   becomes the type's ``fallback``: its value and interval are reported instead (``basis``
   ``ml_fallback`` / ``physics_fallback``). Where the physics branch tracks a fault it has
   detected (a spindle's spall growing, a servo module's Vce(on) rising:
   :data:`~dt_platform.phm.schemas.FAULT_STAGES`), its value is reported as it is
   (``physics_stage``), on training rows as on new ones. The reported intervals are stretched to
   cover 90 % of new machines (:func:`.calibration.interval_scales`). On the whole held-out
   timeline the alert rule (horizon, threshold, smoothing, hysteresis) is chosen by expected
   cost; the costs assumed are in :mod:`.alerting`. All three are stored in the bundle; ``cv``
   keeps the figures behind them.

Measured on held-out simulated fleets (``benchmarks/simulated_phm.py``, training seed 7,
``--eval-seeds``): ``rmse`` per type and branch within the horizon, ``coverage_90`` of the
reported interval, and for the alerts the share of failures warned at least 24 h ahead
(``warned_24h_share``), the share of false alert episodes (``false_alarm_episode_share``) and of
false alerting hours (``false_alarm_rate``). The fusion's gain over the data branch is modest
(78 against 81 h on the 20 fresh fleets 41–60), because the data branch already sees the physics
as features, and not the same on every type (on those fleets the data branch alone is better on
the servo drives, 71 against 81 h, though not life by life beyond chance); the per-type fallback
is decided on three or four held-out machines per type, a noisy decision that does not always
carry over to a new fleet. ``docs/benchmarks.md`` keeps the figures.

Tried and not adopted (measured on an earlier model, before the Vce(on) reading of servo
modules already in service): the stack without the physics estimate (the data branch
recalibrated along its own output). On the training fleet's held-out machines it beat the fusion
on 10 of 12 (sign-flip p = 0.002), and on 20 fresh fleets its RMSE was lower (76.7 h vs 77.9 h;
servo 78.7 h, level with the data branch then); but with it the alerts warned fewer failures a
day ahead (0.89 vs 0.91) and the intervals covered less (0.84 vs 0.88): the physics estimate
shapes the interval and the alert probability more than the point.

No look-ahead anywhere: signals, physics and features at ``ts`` use data before ``ts`` only, so an
hourly replay of a finished history gives the predictions the platform would have made live.

The modules, each importing only the ones above it: :mod:`.config` (settings),
:mod:`.dataset` (steps 1, 2 and 4), :mod:`.features` (step 3), :mod:`.model` (the fitted model
and the fusion of its branches), :mod:`.calibration` and :mod:`.alerting` (step 7),
:mod:`.physics_folds` (the folds by machine and the physics fitted without each),
:mod:`.training` (steps 5 to 7), :mod:`.trends` (the sensor behind an alert), :mod:`.store` (bundles on disk), :mod:`.registry` (which model is current and
when to refit) and :mod:`.daily` (what a day's predictions need around the model). The sensor
catalogue is :mod:`dt_platform.phm.signals`, the row schemas :mod:`dt_platform.phm.schemas`
and the tables :mod:`dt_platform.phm.tables` (none of them loads XGBoost). This
package re-exports what other code uses, so ``fleet.train_fleet_model`` keeps working; its own
modules import each other directly.
"""

from dt_platform.phm.fleet.config import FleetConfig
from dt_platform.phm.fleet.daily import (
    active_machines,
    alert_timeline,
    current_lives,
    feature_gaps,
    interval_violations,
    mark_repairs,
    prediction_note,
    under_repair,
)
from dt_platform.phm.fleet.dataset import (
    LIVES_SCHEMA,
    assemble_base,
    hourly_signals,
    label_rows,
    lives_table,
    physics_hourly,
)
from dt_platform.phm.fleet.features import health_indicator
from dt_platform.phm.fleet.limit_projection import latest_projection, projection_timeline
from dt_platform.phm.fleet.model import FleetModel, combine_branches
from dt_platform.phm.fleet.physics_folds import (
    failed_lives_with_data,
    fit_fleet_robust,
    machine_folds,
)
from dt_platform.phm.fleet.registry import (
    RegistryEntry,
    RetrainPolicy,
    data_until,
    failures_known,
    latest_model,
    latest_physics,
    physics_entry,
    register_model,
    retrain_reason,
    rul_entry,
    rul_retrain_reason,
)
from dt_platform.phm.fleet.store import (
    ModelStoreError,
    StoredBundle,
    bundle_path,
    load_bundle,
    save_bundle,
)
from dt_platform.phm.fleet.training import InsufficientHistory, train_fleet_model
from dt_platform.phm.fleet.trends import sensor_trends
from dt_platform.phm.schemas import BASE_SCHEMA, PREDICTION_SCHEMA
from dt_platform.phm.signals import SIGNAL_COLUMNS, TYPE_SIGNALS

__all__ = [
    "BASE_SCHEMA",
    "LIVES_SCHEMA",
    "PREDICTION_SCHEMA",
    "SIGNAL_COLUMNS",
    "TYPE_SIGNALS",
    "FleetConfig",
    "FleetModel",
    "InsufficientHistory",
    "ModelStoreError",
    "RegistryEntry",
    "RetrainPolicy",
    "StoredBundle",
    "active_machines",
    "alert_timeline",
    "assemble_base",
    "bundle_path",
    "combine_branches",
    "current_lives",
    "data_until",
    "failed_lives_with_data",
    "failures_known",
    "feature_gaps",
    "fit_fleet_robust",
    "health_indicator",
    "hourly_signals",
    "interval_violations",
    "label_rows",
    "latest_model",
    "latest_physics",
    "latest_projection",
    "lives_table",
    "load_bundle",
    "machine_folds",
    "mark_repairs",
    "physics_entry",
    "physics_hourly",
    "prediction_note",
    "projection_timeline",
    "register_model",
    "retrain_reason",
    "rul_entry",
    "rul_retrain_reason",
    "save_bundle",
    "sensor_trends",
    "train_fleet_model",
    "under_repair",
]
