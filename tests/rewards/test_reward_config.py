"""RewardConfig: validation naming the bad value, presets, YAML/argparse-friendly types."""

from __future__ import annotations

import pytest

from exectune_rl.errors import ConfigError
from exectune_rl.rewards.config import PRESETS, RewardConfig


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("task_kind", "poetry"),
        ("leakage", "maybe"),
        ("cost_unit", "euros"),
        ("core_runs", 0),
        ("parse_credit", 1.5),
        ("cost_lambda", -1.0),
        ("name", "has space"),
        ("strategy_tag", "<x>"),
        ("math_timeout_s", 0),
    ],
)
def test_bad_values_are_named(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        RewardConfig(**{field: value})


def test_credit_sum_is_checked() -> None:
    with pytest.raises(ConfigError, match="parse_credit \\+ run_credit"):
        RewardConfig(parse_credit=0.6, run_credit=0.6)


def test_presets() -> None:
    assert RewardConfig.math().task_kind == "math" and not RewardConfig.math().graded_execution
    code = RewardConfig.code(cost_lambda=0.1)
    assert code.task_kind == "code" and code.cost_lambda == 0.1 and "entry_point_body" in code.leakage_detectors
    adv = RewardConfig.advisor()
    # The advisor baseline: task reward only.
    assert (adv.format_gate, adv.leakage, adv.nondegradation_penalty, adv.cost_lambda) == (False, "off", 0.0, 0.0)
    assert set(PRESETS) >= {"math", "code", "advisor"}
    with pytest.raises(ConfigError, match="known: .*math"):
        RewardConfig.preset("gsm9k")


def test_from_dict_names_unknown_keys() -> None:
    assert RewardConfig.from_dict({"core_runs": 3}).core_runs == 3
    with pytest.raises(ConfigError, match="core_run\\b"):
        RewardConfig.from_dict({"core_run": 3})


def test_detector_list_from_a_string() -> None:
    assert RewardConfig(leakage_detectors="gold_answer, long_code_block").leakage_detectors == ["gold_answer", "long_code_block"]


def test_hf_argument_parser_reads_it() -> None:
    transformers = pytest.importorskip("transformers", reason="HfArgumentParser needs the [train] extra")
    parser = transformers.HfArgumentParser(RewardConfig)
    [cfg] = parser.parse_args_into_dataclasses(
        ["--task_kind", "code", "--core_runs", "2", "--cost_lambda", "0.05", "--leakage_detectors", "gold_answer", "long_code_block"]
    )
    assert (cfg.task_kind, cfg.core_runs, cfg.cost_lambda) == ("code", 2, 0.05)
    assert cfg.leakage_detectors == ["gold_answer", "long_code_block"]
