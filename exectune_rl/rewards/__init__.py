"""Rewards for guide models: format, syntax, execution, leakage, non-degradation and cost.

Public contract: :class:`ExecTuneReward` (the composite TRL reward) and :class:`RewardConfig`.
The components are usable on their own; everything is imported on first use, and nothing
here imports torch (only :class:`RewardModelAdapter` does, when it is used).

Example:
    >>> from exectune_rl.rewards import ExecTuneReward, RewardConfig
    >>> reward = ExecTuneReward(RewardConfig.code(), core=my_core)   # doctest: +SKIP
"""

from __future__ import annotations

from exectune_rl._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "ExecTuneReward": "composite",
    "AsyncExecTuneReward": "composite",
    "batch_means": "composite",
    "build_pipeline": "composite",
    "RewardPipeline": "pipeline",
    "METRICS": "metrics",
    "DENOMINATORS": "metrics",
    "MetricAccumulator": "metrics",
    "batch_metrics": "metrics",
    "strategy_outcomes": "metrics",
    "ScoreSummary": "summary",
    "case_fraction": "execution",
    "RewardConfig": "config",
    "PRESETS": "config",
    "RewardRecord": "records",
    "RewardStatus": "records",
    "CoreRun": "records",
    "COMPONENTS": "records",
    "FormatGate": "format_gate",
    "FormatResult": "format_gate",
    "FormatStatus": "format_gate",
    "check_format": "format_gate",
    "SyntaxChecker": "syntax",
    "SyntaxResult": "syntax",
    "SyntaxStatus": "syntax",
    "SyntaxErrorLocation": "syntax",
    "check_syntax": "syntax",
    "available_languages": "syntax",
    "CodeExecutor": "execution",
    "ExecutionResult": "execution",
    "ExecutionStatus": "execution",
    "Grading": "execution",
    "extract_program": "execution",
    "MathVerifier": "mathcheck",
    "LeakageDetector": "leakage",
    "LeakageFinding": "leakage",
    "LeakageResult": "leakage",
    "GoldAnswerDetector": "leakage",
    "EntryPointBodyDetector": "leakage",
    "LongCodeBlockDetector": "leakage",
    "ReferenceOverlapDetector": "leakage",
    "detect_leakage": "leakage",
    "get_leakage_detector": "leakage",
    "Baseline": "nondegradation",
    "BaselineStore": "nondegradation",
    "NonDegradationResult": "nondegradation",
    "CostModel": "cost",
    "CostBreakdown": "cost",
    "TokenCounter": "cost",
    "TokenSource": "cost",
    "utility": "cost",
    "ExecutabilityEstimator": "executability",
    "ExecutabilityEstimate": "executability",
    "estimate_executability": "executability",
    "wilson_interval": "executability",
    "bootstrap_interval": "executability",
    "RewardModelAdapter": "model",
    "completion_text": "text",
    "extract_code_blocks": "text",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
