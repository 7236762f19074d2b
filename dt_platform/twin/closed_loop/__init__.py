"""The closed loop of issue 14: the simulator and the platform together, policy by policy.

Pieces, each importing only those above it: :mod:`.stops` (planned stops and producing hours),
:mod:`.machine_run` (one machine obeying its orders), :mod:`.observe` (what the platform knows
and predicts), the platform's policy (:mod:`dt_platform.twin.policy`), :mod:`.track`
(a machine in the loop and a policy's view of it), :mod:`.loop` (the line under one policy),
:mod:`.policies` (run-to-failure, preventive, predictive, perfect foresight) and
:mod:`.outcomes` (counts, costs, summaries). ``benchmarks/closed_loop.py`` runs them.
"""
