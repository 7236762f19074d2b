"""The signal catalogue is light: a page that only picks sensors to show must not load XGBoost."""

import subprocess
import sys

from dt_platform.phm import fleet, signals


def test_the_catalogue_loads_without_xgboost() -> None:
    code = "import sys, dt_platform.phm.signals; print('xgboost' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_fleet_package_serves_the_same_catalogue() -> None:
    assert fleet.TYPE_SIGNALS is signals.TYPE_SIGNALS
    assert fleet.SIGNAL_COLUMNS == signals.SIGNAL_COLUMNS
    for spec in signals.TYPE_SIGNALS.values():
        assert spec.limits and set(spec.columns) <= set(signals.SIGNAL_COLUMNS)
