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


# --- sandbox_options: the created sandbox's own arguments ---------------------------------


def test_sandbox_options_reach_the_sandbox_the_reward_creates():
    from exectune_rl.rewards import ExecTuneReward

    cfg = RewardConfig.from_section({"preset": "code", "sandbox_workers": 1, "sandbox_options": {"seal_files": False}})
    assert cfg.sandbox_kwargs == {"seal_files": False, "workers": 1}
    reward = ExecTuneReward(cfg)
    try:
        sandbox = reward.executor.sandbox
        assert sandbox.workers == 1
        rec = reward.score(completions=["<strategy>add</strategy>"], problem=["add"], tests=["assert f(1) == 2"],
                           entry_point=["f"], test_format=["asserts"], core_output=["def f(x):\n    return x + 1\n"])[0]
        assert rec.success == 1.0 and rec.execution == 1.0
        assert "sealed" not in sandbox.isolation  # the option was applied: no sealed file view
    finally:
        reward.close()
    sealed = ExecTuneReward(RewardConfig.code(sandbox_workers=1))
    try:
        sealed.score(completions=["<strategy>add</strategy>"], problem=["add"], tests=["assert f(1) == 2"],
                     entry_point=["f"], test_format=["asserts"], core_output=["def f(x):\n    return x + 1\n"])
        if "mountns" in sealed.executor.sandbox.isolation:
            assert "sealed" in sealed.executor.sandbox.isolation  # the default differs, so the test can fail
    finally:
        sealed.close()


@pytest.mark.parametrize("options, match", [
    ({"workers": 2}, "sandbox_workers"),
    (["network"], "mapping"),
    ({"not a name": 1}, "argument names"),
])
def test_bad_sandbox_options_are_config_errors(options, match):
    with pytest.raises(ConfigError, match=match):
        RewardConfig(sandbox_options=options)


def test_an_option_the_sandbox_does_not_take_is_a_config_error_naming_it():
    from exectune_rl.rewards import ExecTuneReward

    reward = ExecTuneReward(RewardConfig.code(sandbox_options={"netwrk": False}))
    try:
        with pytest.raises(ConfigError, match="netwrk"):
            reward.score(completions=["<strategy>s</strategy>"], problem=["p"], tests=["assert f() == 1"], entry_point=["f"],
                         test_format=["asserts"], core_output=["def f():\n    return 1\n"])
    finally:
        reward.close()


def test_sandbox_options_round_trip_through_a_recipe_and_the_cli(tmp_path):
    from exectune_rl.rewards import cli_score

    assert RewardConfig.from_dict(RewardConfig(sandbox_options={"network": False}).to_dict()).sandbox_options == {"network": False}
    import argparse

    parser = argparse.ArgumentParser()
    cli_score.add_arguments(parser)
    cfg = cli_score.build_config(parser.parse_args(["--sandbox-option", "network=false", "--sandbox-option", "chunk_size=4"]))
    assert cfg.sandbox_options == {"network": False, "chunk_size": 4}
    with pytest.raises(ConfigError, match="--sandbox-option"):
        cli_score.build_config(parser.parse_args(["--sandbox-option", "workers=3"]))
