"""``RewardConfig``: every knob of :class:`~exectune_rl.rewards.ExecTuneReward` in one dataclass.

The reward of a completion is, in order:

1. the **format gate**: a completion without exactly one well-formed strategy block scores
   ``format_fail_reward``;
2. a **leak** found by the detectors scores ``leakage_reward`` in ``"gate"`` mode, or costs
   ``leakage_penalty`` in ``"penalty"`` mode;
3. otherwise ``execution_weight * V + syntax_weight * S + format_bonus
   - nondegradation_penalty * degradation - cost_lambda * min(cost, max_cost)``, where V is the
   mean graded execution value over ``core_runs`` core runs (J = V - lambda * cost).

**Outcome ordering.** A passing program earns V = 1, a partial one less (a program that does
not pass always earns strictly less than one that passes), a wrong one 0; a gated completion
(format failure, gated leak) never scores above the worst well-formed one, so breaking the
format or leaking never beats being wrong, with or without cost:

    pass > partial > wrong >= gated

The gated rewards default to that floor, :attr:`RewardConfig.gated_floor`
(``min(0, format_bonus) - nondegradation_penalty - cost_lambda * max_cost``, minus
``leakage_penalty`` in penalty mode): 0 when no penalty or cost applies. A value set above it
is a ConfigError. (Without the floor, a cost-aware GRPO run learns to stop writing well-formed
strategies: a format failure paid no cost while a wrong strategy paid ``-lambda * cost``.)

Plain types only, so ``HfArgumentParser``/``TrlParser`` and YAML can fill it; objects (a
core, a sandbox, a price table, a tokenizer) are passed to ``ExecTuneReward`` directly.

Example:
    >>> cfg = RewardConfig.preset("code", cost_lambda=0.01)
    >>> cfg.task_kind, cfg.leakage
    ('code', 'gate')
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from exectune_rl.errors import ConfigError

__all__ = ["RewardConfig", "PRESETS"]

_LEAKAGE_MODES = ("gate", "penalty", "off")
_DEFAULT_MAX_COST = {"ktokens": 8.0, "usd": 0.05}
_KINDS = ("math", "code")


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class RewardConfig:
    """Configuration of the composite ExecTune reward (see the module docstring for the formula)."""

    name: str = field(default="exectune", metadata=_help("Reward name: TRL logs rewards/<name>/mean and <name>/<component>."))
    task_kind: str | None = field(
        default=None, metadata=_help("'math' or 'code' for every row; None reads each row's 'kind' column.")
    )
    # format gate
    format_gate: bool = field(default=True, metadata=_help("Require one <tag>...</tag> block; False uses the whole completion."))
    strategy_tag: str = field(default="strategy", metadata=_help("Tag name of the strategy block."))
    max_strategy_chars: int = field(default=4000, metadata=_help("Longest strategy block (characters)."))
    format_fail_reward: float | None = field(
        default=None, metadata=_help("Reward of a completion that fails the format gate (None: gated_floor; never above it).")
    )
    format_bonus: float = field(default=0.0, metadata=_help("Added to every well-formed, non-leaking strategy's reward."))
    # execution
    execution_weight: float = field(default=1.0, metadata=_help("Weight of the graded execution value V."))
    syntax_weight: float = field(default=0.0, metadata=_help("Weight of the share of core outputs whose code parses."))
    graded_execution: bool = field(default=True, metadata=_help("Partial credit: parses, runs, fraction of tests passed."))
    parse_credit: float = field(default=0.1, metadata=_help("Credit for a failing program that parses (graded mode)."))
    run_credit: float = field(default=0.1, metadata=_help("Credit for a failing program that runs (graded mode)."))
    core_runs: int = field(default=1, metadata=_help("m: core runs per strategy; V is their mean."))
    core_temperature: float = field(default=0.0, metadata=_help("Sampling temperature of core calls."))
    core_max_tokens: int = field(default=1024, metadata=_help("max_tokens of core calls."))
    cpu_time_s: float = field(default=5.0, metadata=_help("CPU seconds per program in the sandbox."))
    memory_mb: int = field(default=512, metadata=_help("Memory limit per program in the sandbox (MiB)."))
    sandbox: str = field(default="local", metadata=_help("Registry name of the sandbox created when none is passed."))
    sandbox_workers: int | None = field(default=None, metadata=_help("Workers of the created sandbox (None: its default)."))
    sandbox_options: dict[str, Any] = field(default_factory=dict, metadata=_help(
        "Keyword arguments of the created sandbox, e.g. {'address': 'auto', 'workers_per_node': 8} for 'ray' or "
        "{'network': false} for 'local' (workers: sandbox_workers)."))
    execution_cache_size: int = field(default=4096, metadata=_help("Identical (program, tests) runs remembered; 0 disables."))
    calibrate_time_limits: bool = field(default=False, metadata=_help(
        "Limit each task's programs to max(calibration_floor_s, calibration_factor x its reference's CPU time), "
        "cpu_time_s staying the hard limit (see exectune_rl.sandboxes.calibration)."))
    calibration_factor: float = field(default=4.0, metadata=_help("Calibrated limit: multiple of the reference's CPU time."))
    calibration_floor_s: float = field(default=0.05, metadata=_help("Calibrated limit: the smallest limit (s)."))
    calibration_recheck: str = field(default="always", metadata=_help(
        "Re-run a program out of its calibrated limit at cpu_time_s: 'always' (every verdict as at cpu_time_s), "
        "'progress' (one stuck in its first call is re-run at twice its limit instead: loops cost three calibrated limits) or 'never'."))
    syntax_precheck: bool = field(default=True, metadata=_help("Do not run programs tree-sitter cannot parse."))
    max_core_output_chars: int = field(default=65_536, metadata=_help(
        "Longest core output that is parsed and executed (characters); a longer one scores as output_limit (V = 0)."))
    max_core_output_lines: int = field(default=2_000, metadata=_help(
        "Most lines of a core output that is parsed and executed; a longer one scores as output_limit (V = 0)."))
    math_workers: int = field(default=2, metadata=_help("math-verify worker processes (0: in-process, no timeouts)."))
    math_timeout_s: int = field(default=5, metadata=_help("math-verify timeout per answer (whole seconds)."))
    # leakage
    leakage: str = field(default="gate", metadata=_help("'gate' (a leak scores leakage_reward), 'penalty' or 'off'."))
    leakage_reward: float | None = field(
        default=None, metadata=_help("Reward of a leaking strategy in gate mode (None: gated_floor; never above it).")
    )
    leakage_penalty: float = field(default=1.0, metadata=_help("Subtracted from a leaking strategy's reward in penalty mode."))
    leakage_detectors: list[str] = field(
        default_factory=lambda: ["gold_answer", "entry_point_body", "long_code_block", "reference_overlap", "hack_instruction"],
        metadata=_help("Detector names, cheapest first (built-ins, entry points or pkg.mod:attr)."),
    )
    max_code_lines: int = field(default=12, metadata=_help("long_code_block: most code lines a strategy may carry."))
    overlap_threshold: float = field(default=0.5, metadata=_help("reference_overlap: n-gram share that counts as a leak."))
    # non-degradation
    nondegradation_penalty: float = field(
        default=0.5, metadata=_help("Penalty per unit of success lost against the core alone; 0 skips core-only calls.")
    )
    baseline_runs: int = field(default=1, metadata=_help("Core-only runs per task for the non-degradation baseline."))
    baseline_path: str | None = field(default=None, metadata=_help("JSONL file keeping core-only outcomes across runs."))
    # cost
    cost_lambda: float = field(default=0.0, metadata=_help("lambda in J = V - lambda * cost."))
    cost_unit: str = field(default="ktokens", metadata=_help("'ktokens' (guide + core tokens / 1000) or 'usd'."))
    max_cost: float | None = field(
        default=None,
        metadata=_help("Cost where the cost term saturates, so the gated floor is finite (None: 8 ktokens, or $0.05 in usd mode)."),
    )
    guide_model: str | None = field(default=None, metadata=_help("Guide model name, to price its tokens in usd mode."))
    given_output_model: str | None = field(
        default=None, metadata=_help("Model name that prices 'core_output' columns given in the data (None: unpriced).")
    )
    # logging
    log_components: bool = field(default=True, metadata=_help("Log each component through TRL's log_metric/log_extra."))

    def __post_init__(self) -> None:
        self._check_choice("task_kind", self.task_kind, (*_KINDS, None))
        self._check_choice("leakage", self.leakage, _LEAKAGE_MODES)
        self._check_choice("cost_unit", self.cost_unit, ("ktokens", "usd"))
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ConfigError(f"RewardConfig.name must be an identifier such as 'exectune', got {self.name!r}")
        for name in ("max_strategy_chars", "core_runs", "core_max_tokens", "memory_mb", "baseline_runs", "max_code_lines", "math_timeout_s",
                     "max_core_output_chars", "max_core_output_lines"):
            self._check_int(name, minimum=1)
        for name in ("execution_cache_size", "math_workers"):
            self._check_int(name, minimum=0)
        if self.sandbox_workers is not None:
            self._check_int("sandbox_workers", minimum=1)
        self._check_sandbox_options()
        for name in ("parse_credit", "run_credit", "overlap_threshold"):
            self._check_number(name, 0.0, 1.0)
        if self.parse_credit + self.run_credit >= 1.0:
            raise ConfigError(f"parse_credit + run_credit must be < 1 (a failing program must earn less than a pass), got {self.parse_credit} + {self.run_credit}")
        for name in ("execution_weight", "syntax_weight", "leakage_penalty", "nondegradation_penalty", "cost_lambda", "cpu_time_s", "core_temperature"):
            self._check_number(name, 0.0, None)
        self._check_number("format_bonus", None, None)
        if self.max_cost is not None:
            self._check_number("max_cost", 0.0, None)
            if self.max_cost <= 0:
                raise ConfigError(f"RewardConfig.max_cost must be positive, got {self.max_cost!r}")
        for name in ("format_fail_reward", "leakage_reward"):
            if getattr(self, name) is not None:
                self._check_number(name, None, None)
                if getattr(self, name) > self.gated_floor:
                    raise ConfigError(
                        f"RewardConfig.{name}={getattr(self, name)!r} is above the worst reward a well-formed strategy can get "
                        f"({self.gated_floor!r}: min(0, format_bonus) - nondegradation_penalty - cost_lambda * max_cost"
                        f"{' - leakage_penalty' if self.leakage == 'penalty' else ''}), so breaking the format or leaking "
                        f"would beat a wrong answer; use a value <= {self.gated_floor!r} or leave it unset"
                    )
        for name in ("format_gate", "graded_execution", "calibrate_time_limits", "syntax_precheck", "log_components"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"RewardConfig.{name} must be true or false, got {getattr(self, name)!r}")
        for name in ("calibration_factor", "calibration_floor_s", "cpu_time_s"):
            self._check_number(name, 0.0, None)
            if not 0 < getattr(self, name) < math.inf:
                raise ConfigError(f"RewardConfig.{name} must be a positive finite number, got {getattr(self, name)!r}")
        if self.calibration_recheck not in ("always", "progress", "never"):
            raise ConfigError(f"RewardConfig.calibration_recheck must be 'always', 'progress' or 'never', "
                              f"got {self.calibration_recheck!r}")
        if not isinstance(self.strategy_tag, str) or not self.strategy_tag.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"RewardConfig.strategy_tag must be a plain tag name, got {self.strategy_tag!r}")
        if isinstance(self.leakage_detectors, str):
            self.leakage_detectors = [d.strip() for d in self.leakage_detectors.split(",") if d.strip()]
        self.leakage_detectors = list(self.leakage_detectors)
        bad = [d for d in self.leakage_detectors if not isinstance(d, str) or not d]
        if bad:
            raise ConfigError(f"RewardConfig.leakage_detectors must be names, got {bad!r}")

    def _check_sandbox_options(self) -> None:
        options = self.sandbox_options
        if options is None:
            self.sandbox_options = options = {}
        if not isinstance(options, Mapping):
            raise ConfigError(f"RewardConfig.sandbox_options must be a mapping of keyword arguments, got {type(options).__name__}")
        bad = [k for k in options if not isinstance(k, str) or not k.isidentifier()]
        if bad:
            raise ConfigError(f"RewardConfig.sandbox_options keys must be argument names, got {bad!r}")
        if "workers" in options:
            raise ConfigError("RewardConfig.sandbox_options must not set 'workers': use RewardConfig.sandbox_workers")
        self.sandbox_options = dict(options)

    @property
    def sandbox_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the sandbox this config creates: ``sandbox_options`` plus ``workers``."""
        out = dict(self.sandbox_options)
        if self.sandbox_workers is not None:
            out["workers"] = self.sandbox_workers
        return out

    @property
    def cost_cap(self) -> float:
        """The cost where the cost term saturates (``max_cost``, or the unit's default)."""
        if self.max_cost is not None:
            return float(self.max_cost)
        return _DEFAULT_MAX_COST[self.cost_unit]

    @property
    def gated_floor(self) -> float:
        """The worst reward a well-formed strategy can get; gated completions score at most this."""
        floor = min(0.0, float(self.format_bonus)) - self.nondegradation_penalty - self.cost_lambda * self.cost_cap
        if self.leakage == "penalty":
            floor -= self.leakage_penalty
        return floor

    @property
    def format_fail_value(self) -> float:
        """The reward of a completion that fails the format gate."""
        return self.gated_floor if self.format_fail_reward is None else float(self.format_fail_reward)

    @property
    def leakage_value(self) -> float:
        """The reward of a gated leak."""
        return self.gated_floor if self.leakage_reward is None else float(self.leakage_reward)

    def scored_reward(self, value: float, syntax: float | None, degradation: float, cost: float | None) -> float:
        """The reward of a well-formed, scored strategy (step 3 of the module docstring).

        Example:
            >>> RewardConfig(cost_lambda=0.125).scored_reward(1.0, None, 0.0, 100.0)   # cost saturates at 8
            0.0
        """
        reward = self.execution_weight * value + self.syntax_weight * (syntax or 0.0) + self.format_bonus
        reward -= self.nondegradation_penalty * degradation
        if self.cost_lambda:
            reward -= self.cost_lambda * min(cost or 0.0, self.cost_cap)
        return reward

    def _check_choice(self, name: str, value: Any, choices: tuple[Any, ...]) -> None:
        if value not in choices:
            raise ConfigError(f"RewardConfig.{name} must be one of {list(choices)}, got {value!r}")

    def _check_int(self, name: str, minimum: int) -> None:
        value = getattr(self, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ConfigError(f"RewardConfig.{name} must be an int >= {minimum}, got {value!r}")

    def _check_number(self, name: str, low: float | None, high: float | None) -> None:
        value = getattr(self, name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
            raise ConfigError(f"RewardConfig.{name} must be a number, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            if low is not None and high is not None:
                bounds = f"in [{low:g}, {high:g}]"
            else:
                bounds = f">= {low:g}" if low is not None else f"<= {high:g}"
            raise ConfigError(f"RewardConfig.{name} must be {bounds}, got {value!r}")

    def replace(self, **changes: Any) -> "RewardConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RewardConfig":
        """Build from a mapping (YAML), naming unknown keys."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown RewardConfig field(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**data)

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None) -> "RewardConfig":
        """Build from a recipe's ``reward:`` section: ``preset:`` (optional) plus fields.

        The one way recipes, ``exectune score --config`` and the CLI's ``--set`` turn a
        mapping into a config.

        Example:
            >>> RewardConfig.from_section({"preset": "code", "cost_lambda": 0.01}).task_kind
            'code'
        """
        fields = dict(section or {})
        preset = fields.pop("preset", None)
        return cls.preset(preset, **fields) if preset else cls.from_dict(fields)

    @classmethod
    def preset(cls, name: str, /, **overrides: Any) -> "RewardConfig":
        """One of the paper's settings: ``"math"``, ``"code"`` or ``"advisor"``/``"advisor_math"``/``"advisor_code"``.

        Args:
            name: Preset name (see :data:`PRESETS`).
            **overrides: Fields to change on top of the preset.

        Returns:
            The configuration.

        Example:
            >>> RewardConfig.preset("advisor").leakage
            'off'
        """
        if name not in PRESETS:
            raise ConfigError(f"unknown reward preset {name!r}; known: {', '.join(sorted(PRESETS))}")
        return cls(**{**PRESETS[name], **overrides})

    @classmethod
    def math(cls, **overrides: Any) -> "RewardConfig":
        """GSM8K-style math: binary correctness, gold-answer leakage gate, non-degradation."""
        return cls.preset("math", **overrides)

    @classmethod
    def code(cls, **overrides: Any) -> "RewardConfig":
        """Code with tests: graded execution, code leakage gate, non-degradation."""
        return cls.preset("code", **overrides)

    @classmethod
    def advisor(cls, **overrides: Any) -> "RewardConfig":
        """The "advisor" baseline: task reward only (no gate, leakage, non-degradation or cost)."""
        return cls.preset("advisor", **overrides)


_ADVISOR: dict[str, Any] = {
    "format_gate": False,
    "leakage": "off",
    "nondegradation_penalty": 0.0,
    "cost_lambda": 0.0,
    "syntax_weight": 0.0,
    "graded_execution": False,
}

PRESETS: dict[str, dict[str, Any]] = {
    "math": {
        "task_kind": "math",
        "graded_execution": False,
        "leakage_detectors": ["gold_answer"],
        "nondegradation_penalty": 0.5,
    },
    "code": {
        "task_kind": "code",
        "graded_execution": True,
        "leakage_detectors": ["entry_point_body", "long_code_block", "reference_overlap"],
        "nondegradation_penalty": 0.5,
    },
    "advisor": dict(_ADVISOR),
    "advisor_math": {**_ADVISOR, "task_kind": "math"},
    "advisor_code": {**_ADVISOR, "task_kind": "code"},
}
