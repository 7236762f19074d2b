"""The decision policy the loop calls: :mod:`dt_platform.twin.policy` when it is there, else
the interim one of :mod:`.interim_policy` behind the same signature (``SOURCE`` says which)."""

from __future__ import annotations

try:  # pragma: no cover - which branch runs depends on what is merged
    from dt_platform.twin.costs import Capacity, Costs
    from dt_platform.twin.policy import DecisionContext, RulBelief, choose_action

    SOURCE = "dt_platform.twin.policy"
except ImportError:  # pragma: no cover
    from dt_platform.twin.closed_loop.interim_policy import (
        Capacity,
        Costs,
        DecisionContext,
        RulBelief,
        choose_action,
    )

    SOURCE = "dt_platform.twin.closed_loop.interim_policy"

__all__ = ["SOURCE", "Capacity", "Costs", "DecisionContext", "RulBelief", "choose_action"]
