"""Where fleet model bundles live on disk (``Settings.models_dir``), each named by the sha256 of its
bytes, and loading one back only if its bytes still hash to the version it was registered as."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from dt_platform.fileio import atomic_write_bytes
from dt_platform.phm.fleet.model import FleetModel


class ModelStoreError(RuntimeError):
    """A registered bundle cannot be used: it is missing or its bytes were changed."""


@dataclass(frozen=True)
class StoredBundle:
    """A bundle written to the store."""

    version: str
    """sha256 of the bundle's bytes (= :attr:`FleetModel.version`)."""
    name: str
    """File name inside the models folder (the registry's ``path``)."""
    path: Path
    size: int
    """Bytes written."""


def bundle_path(models: Path, name: str | None) -> Path:
    """Where a bundle registered under ``name`` lives in the ``models`` folder."""
    return models / str(name)


def save_bundle(models: Path, model: FleetModel) -> StoredBundle:
    """Write the model's bundle under its sha256, atomically: a failed write leaves neither a
    half-written bundle nor a temporary file."""
    data = model.to_bytes()
    version = hashlib.sha256(data).hexdigest()
    name = f"rul-{version}.dtrul"
    path = models / name
    atomic_write_bytes(path, data)
    return StoredBundle(version, name, path, len(data))


def load_bundle(models: Path, name: str | None, version: str) -> FleetModel:
    """The bundle registered as ``version`` under ``name``, checked against its content hash
    before use; raises :class:`ModelStoreError` if it is missing or was changed."""
    path = bundle_path(models, name)
    if not path.is_file():
        raise ModelStoreError(
            f"the registered RUL model {version[:12]} is missing at {path}; "
            "re-materialize rul_model with run config force: true"
        )
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != version:
        raise ModelStoreError(
            f"{path} hashes to {digest[:12]}, not its registered version "
            f"{version[:12]}: the file was changed; re-materialize rul_model (force: true)"
        )
    return FleetModel.from_bytes(data)
