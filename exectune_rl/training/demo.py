"""Deprecated location of the offline demo: use :mod:`exectune_rl.evaluation.demo`.

The demo ends in an evaluation, so it lives above ``evaluation`` in the layering; this alias
is kept for one release.
"""

from __future__ import annotations

import warnings

from exectune_rl.evaluation.demo import QUICK, DemoConfig, DemoOutcome, run_demo

__all__ = ["QUICK", "DemoConfig", "DemoOutcome", "run_demo"]

warnings.warn(
    "exectune_rl.training.demo moved to exectune_rl.evaluation.demo", DeprecationWarning, stacklevel=2
)
