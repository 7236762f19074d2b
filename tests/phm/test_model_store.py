"""The model store: a bundle is written under the sha256 of its bytes and loaded back only if it
still hashes to its registered version; a failed write leaves nothing behind. And when the RUL
model is refitted rather than loaded from the store."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dt_platform.phm.fleet.config import FleetConfig
from dt_platform.phm.fleet.features import FleetFeaturizer
from dt_platform.phm.fleet.model import FleetModel
from dt_platform.phm.fleet.registry import RegistryEntry, rul_retrain_reason
from dt_platform.phm.fleet.store import (
    ModelStoreError,
    bundle_path,
    load_bundle,
    save_bundle,
)
from dt_platform.phm.ml import RulModel, XGBParams

SMALL = XGBParams(n_estimators=10, max_depth=2, learning_rate=0.3)
T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def model() -> FleetModel:
    """A small but real fleet model: an XGBoost branch on one feature, no fusers."""
    rng = np.random.default_rng(3)
    frame = pl.DataFrame({"x": rng.normal(size=80), "unit": np.repeat(np.arange(8), 10)})
    ml = RulModel.fit(
        frame,
        pl.Series("rul", rng.uniform(0.0, 100.0, 80)),
        frame["unit"],
        feature_columns=["x"],
        params=SMALL,
        quantile_params=SMALL,
        n_splits=2,
    )
    return FleetModel(FleetFeaturizer(FleetConfig(), {}), ml, {}, "physics-v1", T0.isoformat())


def test_a_bundle_is_stored_under_its_sha256_and_loads_back(tmp_path: Path, model) -> None:
    models = tmp_path / "models"
    assert models == tmp_path / "models"
    stored = save_bundle(models, model)
    data = stored.path.read_bytes()
    assert stored.version == hashlib.sha256(data).hexdigest() == model.version
    assert stored.name == f"rul-{stored.version}.dtrul" and stored.path == models / stored.name
    assert stored.size == len(data)
    assert sorted(p.name for p in models.iterdir()) == [stored.name]
    again = load_bundle(models, stored.name, stored.version)
    assert again.version == model.version and again.physics_version == "physics-v1"


def test_a_changed_bundle_is_refused(tmp_path: Path, model) -> None:
    stored = save_bundle(tmp_path, model)
    data = bytearray(stored.path.read_bytes())
    data[-1] ^= 1
    stored.path.write_bytes(bytes(data))
    with pytest.raises(ModelStoreError, match="the file was changed") as err:
        load_bundle(tmp_path, stored.name, stored.version)
    assert str(stored.path) in str(err.value) and "force: true" in str(err.value)


def test_a_missing_bundle_is_refused(tmp_path: Path, model) -> None:
    with pytest.raises(ModelStoreError, match="is missing at") as err:
        load_bundle(tmp_path, "rul-gone.dtrul", model.version)
    assert f"model {model.version[:12]} is missing" in str(err.value)
    assert "force: true" in str(err.value)


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path, model, monkeypatch) -> None:
    models = tmp_path / "models"
    kept = save_bundle(models, model)

    def disk_full(self: Path, data: bytes) -> int:
        with open(self, "wb") as fh:
            fh.write(data[: len(data) // 2])
        raise OSError("No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    kept.path.unlink()
    with pytest.raises(OSError, match="No space left"):
        save_bundle(models, model)
    monkeypatch.undo()
    assert list(models.iterdir()) == []


def test_the_rul_model_is_refitted_when_forced_new_stale_or_lost(tmp_path: Path, model) -> None:
    stored = save_bundle(tmp_path, model)
    latest = RegistryEntry(
        "rul", stored.version, T0, T0, path=stored.name, physics_version="physics-v1"
    )

    def reason(entry: RegistryEntry | None, physics: str = "physics-v1", **kw) -> str | None:
        return rul_retrain_reason(entry, physics_version=physics, models=tmp_path, **kw)

    assert reason(latest) is None
    assert reason(latest, force=True) == "forced by run config"
    assert reason(None) == "no model registered yet"
    assert reason(latest, "physics-v2") == "the damage laws were refitted (physics-v2)"
    assert bundle_path(tmp_path, latest.path).is_file()
    stored.path.unlink()
    assert reason(latest) == "the registered bundle is missing on disk"
