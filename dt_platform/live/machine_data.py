"""What a live machine runs with and what one of its steps yields (see
:mod:`dt_platform.live.machine`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Applied:
    """Settings the machine runs with (the convention's ``settings``)."""

    derate_pct: float = 0.0
    maintenance: bool = False
    inspection: str = ""

    def as_dict(self) -> dict:
        return {
            "derate_pct": float(self.derate_pct),
            "maintenance": self.maintenance,
            "inspection": self.inspection,
        }


@dataclass(frozen=True)
class Readings:
    """Steps simulated by one :meth:`~dt_platform.live.machine.LiveMachine.advance_to` call."""

    t: np.ndarray
    """(k,) UTC seconds of each reading."""
    mode: np.ndarray
    """(k,) index into :data:`~dt_platform.live.machine.MODES`."""
    values: np.ndarray
    """(k, sensors) what the sensors read, canonical units, model's sensor order, NaN = none."""
    damage: np.ndarray
    """(k,) true damage at the end of each step (ground truth; never published)."""
    missing: np.ndarray
    """(k,) True where the gateway hears nothing from the machine (comm loss): send nothing."""

    def __len__(self) -> int:
        return int(self.t.size)

    @classmethod
    def empty(cls) -> Readings:
        none = np.empty(0)
        return cls(
            none.astype(np.int64), none.astype(np.int8), none.reshape(0, 0), none, none.astype(bool)
        )


@dataclass(frozen=True)
class FailureEvent:
    t_s: int
    component_no: int
    mode: str
    repaired_s: int
