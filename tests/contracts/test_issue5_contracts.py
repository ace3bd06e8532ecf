"""Black-box contracts of the training recipes and the evaluation report (``exectune sample | sft |
grpo | eval | demo``, YAML recipes parsed into dataclasses, the paper-style report, the GPU check).

Only public names are used, as a user would. Everything runs offline on a CPU: the scripted
teacher and ``ProgramCore`` in a real ``LocalSandbox`` stand in for models; one test builds a
tiny guide to check the SFT loss mask.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from exectune_rl.cli import SUBCOMMANDS, main
from exectune_rl.cores.base import CallableCore, CoreFailureKind, CoreResponse
from exectune_rl.errors import ConfigError, DataError, ExecTuneError
from exectune_rl.evaluation import (
    EvalRecipe,
    Estimate,
    MethodConfig,
    MethodResult,
    evaluate_core_alone,
    evaluate_method,
    load_results,
    markdown_table,
    proportion,
    run_eval,
    save_results,
    write_report,
)
from exectune_rl.training import (
    RLRecipe,
    SampleRecipe,
    SFTRecipe,
    ScriptedTeacher,
    acceptance_sample,
    apply_overrides,
    guide_prompt_fn,
    load_sft_dataset,
    make_arith_problems,
    parse_recipe,
    parse_recipe_dict,
    run_sample,
)
from exectune_rl.training.demo import DemoConfig

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
PNG = b"\x89PNG\r\n\x1a\n"
TEMPLATE = "Write a Python strategy that prints the answer.\n{problem}"
REWARD = {"preset": "math", "nondegradation_penalty": 0.0, "math_workers": 1}
CORE = {"name": "program", "sandbox": "local", "sandbox_options": {"workers": 2}}


def _write_yaml(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _recipe_class(name: str) -> type:
    if name.endswith("_sample.yaml"):
        return SampleRecipe
    if name.endswith("_sft.yaml"):
        return SFTRecipe
    if name.endswith("_eval.yaml"):
        return EvalRecipe
    return RLRecipe


# ---------------------------------------------------------------- the CLI surface


@pytest.mark.parametrize("command", ["sample", "sft", "grpo", "eval", "demo", "score"])
def test_every_recipe_subcommand_exists_and_answers_help(command, capsys):
    assert command in SUBCOMMANDS
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"exectune {command}" in out
    if command in ("sample", "sft", "grpo", "eval"):
        assert "--config" in out and "--set" in out and "--output-dir" in out
    if command == "grpo":
        assert "rloo" in out
    if command == "demo":
        assert "--quick" in out


@pytest.mark.parametrize("command", ["sample", "sft", "grpo", "eval"])
def test_recipe_commands_require_a_config(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command])
    assert exc.value.code == 2
    assert "--config" in capsys.readouterr().err


def test_grpo_algorithm_choice_is_checked(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["grpo", "--config", str(EXAMPLES / "synthetic_grpo.yaml"), "--algorithm", "ppo"])
    assert exc.value.code == 2
    assert "ppo" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["sample", "sft", "grpo", "eval"])
def test_a_missing_recipe_file_exits_2_naming_it(command, tmp_path, capsys):
    missing = tmp_path / "nope.yaml"
    assert main([command, "--config", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "Traceback" not in err


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"k: \xff\xfe broken\n", "utf-8"),      # not text
        (b"- a\n- b\n", "mapping"),              # a list, not a mapping
        (b"k: [unclosed\n", "YAML"),             # not YAML
        (b"1: 2\nzz: 3\n", "unknown key"),       # keys that are not names
    ],
)  # fmt: skip
def test_malformed_recipe_files_exit_2_with_the_reason(content, needle, tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    assert main(["sample", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "exectune sample: error" in err


@pytest.mark.parametrize(
    "override, needle",
    [
        ("k", "key.sub=value"),
        ("k=abc", "'abc'"),
        ("k=true", "k must be a number"),
        ("k=.inf", "k must be"),
        ("teacher_temperature=.nan", "teacher_temperature"),
        ("tasks.sourse=x", "'sourse'"),
        ("tasks..limit=3", "tasks..limit"),
        ("teacher_max_tokens=0", "teacher_max_tokens"),
        ("teacher_temperature=-1", "teacher_temperature"),
        ("k=0", "k must be >= 1"),
    ],
)
def test_bad_overrides_exit_2_naming_the_field(override, needle, capsys):
    assert main(["sample", "--config", str(EXAMPLES / "synthetic_sample.yaml"), "--set", override]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


@pytest.mark.parametrize(
    "override, needle",
    [("grpo_steps=0", "grpo_steps"), ("sft_epochs=0", "sft_epochs"), ("max_new_tokens=0", "max_new_tokens"),
     ("eval_k=abc", "eval_k"), ("colour=red", "'colour'"), ("p_correct=2", "p_correct")],
)  # fmt: skip
def test_demo_rejects_bad_settings_before_doing_any_work(override, needle, tmp_path, capsys):
    assert main(["demo", "--quick", "--output-dir", str(tmp_path / "demo"), "--set", override]) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()  # nothing ran


def test_sft_on_a_missing_or_empty_dataset_exits_2(tmp_path, capsys):
    base = ["sft", "--config", str(EXAMPLES / "synthetic_sft.yaml"), "--set", "tiny=null",
            "--output-dir", str(tmp_path / "sft")]  # fmt: skip
    assert main([*base, "--set", f"dataset={tmp_path / 'absent'}"]) == 2
    assert "absent" in capsys.readouterr().err
    empty = tmp_path / "sample"
    empty.mkdir()
    (empty / "accepted.jsonl").write_text("")
    assert main([*base, "--set", f"dataset={empty}"]) == 2
    assert "empty" in capsys.readouterr().err


def test_sft_dataset_errors_are_data_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": [{"role": "user", "content": "x"}]\n')
    with pytest.raises(DataError, match="bad.jsonl"):
        load_sft_dataset(bad)
    nocol = tmp_path / "nocol.jsonl"
    nocol.write_text(json.dumps({"prompt": "x"}) + "\n")
    with pytest.raises(DataError, match="completion"):
        load_sft_dataset(nocol)
    with pytest.raises(DataError):
        load_sft_dataset(tmp_path / "missing")


def test_eval_with_a_missing_guide_checkpoint_exits_2_naming_it(tmp_path, capsys):
    missing = tmp_path / "no-such-guide"
    recipe = _write_yaml(tmp_path / "eval.yaml", {
        "output_dir": str(tmp_path / "report"), "tasks": {"source": "synthetic", "limit": 2}, "core": CORE,
        "reward": REWARD, "k": 1, "cache": {"enabled": False},
        "methods": [{"name": "core alone"}, {"name": "+ guide", "model": str(missing)}],
    })  # fmt: skip
    assert main(["eval", "--config", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "Traceback" not in err


def test_grpo_with_a_missing_guide_checkpoint_exits_2_naming_it(tmp_path, capsys):
    missing = tmp_path / "no-such-sft"
    argv = ["grpo", "--config", str(EXAMPLES / "synthetic_grpo.yaml"), "--set", f"model={missing}",
            "--set", "tasks.limit=2", "--set", "cache.enabled=false", "--output-dir", str(tmp_path / "grpo")]  # fmt: skip
    assert main(argv) == 2
    assert str(missing) in capsys.readouterr().err


@pytest.mark.parametrize("command, config", [("sample", "synthetic_sample.yaml"), ("eval", "synthetic_eval.yaml")])
def test_a_task_section_that_selects_nothing_exits_2(command, config, tmp_path, capsys):
    argv = [command, "--config", str(EXAMPLES / config), "--set", "tasks.limit=0", "--set", "cache.enabled=false",
            "--output-dir", str(tmp_path / "out")]  # fmt: skip
    if command == "eval":  # the shipped recipe names checkpoints that only exist after training
        argv += ["--set", "methods=[{name: core alone}]"]
    assert main(argv) == 2
    assert "no tasks" in capsys.readouterr().err


def test_a_method_that_fails_midway_keeps_the_results_before_it(tmp_path, capsys):
    recipe = _write_yaml(tmp_path / "eval.yaml", {
        "output_dir": str(tmp_path / "report"), "tasks": {"source": "synthetic", "limit": 2}, "core": CORE,
        "reward": REWARD, "k": 1, "cache": {"enabled": False}, "guide_template": TEMPLATE,
        "methods": [{"name": "core alone"}, {"name": "broken", "guide": {"name": "no-such-core"}}],
    })  # fmt: skip
    assert main(["eval", "--config", str(recipe)]) == 2
    assert "no-such-core" in capsys.readouterr().err
    saved = json.loads((tmp_path / "report" / "results.json").read_text())
    assert [r["name"] for r in saved] == ["core alone"]


def test_importing_the_recipe_packages_does_not_import_torch():
    code = (
        "import sys, exectune_rl.training, exectune_rl.evaluation, exectune_rl.training.cli, "
        "exectune_rl.evaluation.cli\n"
        "from exectune_rl.training import SampleRecipe, parse_recipe\n"
        "from exectune_rl.evaluation import EvalRecipe, MethodResult\n"
        "print(sorted(m for m in ('torch', 'transformers', 'trl', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- recipes as dataclasses


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_recipe_parses_into_its_dataclass(path):
    cls = _recipe_class(path.name)
    recipe = parse_recipe(cls, path)
    assert isinstance(recipe, cls) and dataclasses.is_dataclass(recipe)
    raw = yaml.safe_load(path.read_text())
    assert recipe.output_dir == raw["output_dir"]
    if cls is RLRecipe:
        assert recipe.algorithm == ("rloo" if "rloo" in path.name else "grpo")
        lr = recipe.trainer["learning_rate"]
        assert isinstance(lr, float) and 0 < lr < 1
    if cls is EvalRecipe:
        assert all(isinstance(m, MethodConfig) and m.name for m in recipe.methods)


def test_recipe_values_are_converted_and_overrides_nest():
    recipe = parse_recipe(RLRecipe, EXAMPLES / "synthetic_grpo.yaml",
                          ["trainer.max_steps=3", "tasks.limit=7", "algorithm=rloo", "trainer.learning_rate=1e-5"])  # fmt: skip
    assert recipe.trainer["max_steps"] == 3 and recipe.tasks.limit == 7 and recipe.algorithm == "rloo"
    assert recipe.trainer["learning_rate"] == 1e-5  # YAML 1.1 reads 1e-5 as a string; recipes mean a float
    assert parse_recipe_dict(SampleRecipe, {"output_dir": "o", "k": "3"}).k == 3
    assert apply_overrides({"a": {"b": 1}}, ["a.c=x", "d.e=2"]) == {"a": {"b": 1, "c": "x"}, "d": {"e": 2}}
    assert apply_overrides({}, ["title=ExecTune ✓ ünï"]) == {"title": "ExecTune ✓ ünï"}


def test_unknown_and_missing_keys_are_named():
    with pytest.raises(ConfigError, match=r"tasks: unknown key\(s\) 'sourse'"):
        parse_recipe_dict(RLRecipe, {"model": "m", "tasks": {"sourse": "x"}})
    with pytest.raises(ConfigError, match="missing required key.*dataset, output_dir"):
        parse_recipe_dict(SFTRecipe, {"model": "m"})
    with pytest.raises(ConfigError, match="unknown key"):
        parse_recipe_dict(SampleRecipe, {1: 2, "zz": 3, "output_dir": "o"})


@pytest.mark.parametrize(
    "cls, kwargs, needle",
    [
        (SampleRecipe, {"output_dir": "o", "k": "a"}, "k"),
        (SampleRecipe, {"output_dir": "o", "k": None}, "k"),
        (SampleRecipe, {"output_dir": "o", "revision_rounds": 1.5}, "revision_rounds"),
        (SampleRecipe, {"output_dir": ""}, "output_dir"),
        (RLRecipe, {"model": ""}, "model"),
        (RLRecipe, {"model": "m", "algorithm": "ppo"}, "ppo"),
        (SFTRecipe, {"model": "m", "dataset": "", "output_dir": "o"}, "dataset"),
        (MethodConfig, {"name": ""}, "name"),
        (MethodConfig, {"name": ["a"]}, "name"),
        (DemoConfig, {"eval_k": "a"}, "eval_k"),
        (DemoConfig, {"grpo_steps": 0}, "grpo_steps"),
        (DemoConfig, {"sft_lr": -1.0}, "sft_lr"),
    ],
)
def test_recipes_built_directly_reject_bad_values_with_a_config_error(cls, kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        cls(**kwargs)


@pytest.mark.parametrize(
    "field, value",
    [("k", 0), ("temperature", -0.5), ("max_new_tokens", 0), ("batch_size", 0), ("confidence", 1.0),
     ("temperature", float("nan"))],
)  # fmt: skip
def test_eval_recipe_validates_its_numbers(field, value):
    with pytest.raises(ConfigError, match=field):
        parse_recipe_dict(EvalRecipe, {"output_dir": "o", "methods": [{"name": "a"}], field: value})


def test_eval_recipe_needs_unique_named_methods():
    with pytest.raises(ConfigError, match="at least one"):
        parse_recipe_dict(EvalRecipe, {"output_dir": "o", "methods": []})
    with pytest.raises(ConfigError, match="unique"):
        parse_recipe_dict(EvalRecipe, {"output_dir": "o", "methods": [{"name": "a"}, {"name": "a"}]})
    with pytest.raises(ConfigError, match=r"methods\[0\] must be a mapping"):
        parse_recipe_dict(EvalRecipe, {"output_dir": "o", "methods": ["core alone"]})
    with pytest.raises(ConfigError, match="not both"):
        MethodConfig(name="x", model="m", guide={"name": "scripted"})


@pytest.mark.parametrize("template", ["{problem.real}", "{0}", "{answer}", "{", "no placeholder at all"])
def test_guide_templates_are_checked(template):
    with pytest.raises(ConfigError, match="guide_template"):
        guide_prompt_fn(template)


# ---------------------------------------------------------------- acceptance sampling


@pytest.fixture(scope="module")
def sampled(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    recipe = parse_recipe(SampleRecipe, EXAMPLES / "synthetic_sample.yaml", [
        f"output_dir={out / 'sample'}", f"cache.path={out / 'cache.sqlite'}", "tasks.limit=12",
        "core.sandbox_options.workers=2",
    ])  # fmt: skip
    return recipe, run_sample(recipe)


def test_sampling_writes_a_hf_dataset_jsonl_and_statistics(sampled):
    import datasets

    recipe, outcome = sampled
    out = Path(recipe.output_dir)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["n_tasks"] == 12 and stats["k"] == 2 and stats["n_candidates"] >= 24
    assert 0 < stats["n_accepted"] < stats["n_candidates"]  # the flawed strategies were rejected
    assert stats["acceptance_rate"] == pytest.approx(outcome.stats.acceptance_rate)
    assert sum(stats["accepted_per_round"]) == stats["n_accepted"] and len(stats["accepted_per_round"]) == 2
    assert set(stats["rejections"]) <= {"format", "leak", "execution", "infra", "teacher_error"}
    assert sum(stats["rejections"].values()) + stats["n_accepted"] == stats["n_candidates"]
    ds = datasets.load_from_disk(str(out / "dataset"))
    rows = [json.loads(line) for line in (out / "accepted.jsonl").read_text().splitlines()]
    assert len(ds) == len(rows) == outcome.n_rows == stats["n_accepted"]
    assert {"prompt", "completion", "task_id", "answer"} <= set(ds.column_names)
    for row in rows:
        assert row["completion"][0]["role"] == "assistant"
        assert row["completion"][0]["content"].startswith("<strategy>")
        assert row["answer"] not in row["completion"][0]["content"].split()  # accepted strategies do not leak
    candidates = (out / "candidates.jsonl").read_text().splitlines()
    assert len(candidates) == stats["n_candidates"]
    assert sum(json.loads(c)["accepted"] for c in candidates) == stats["n_accepted"]


def test_a_rerun_is_served_from_the_cache(sampled):
    recipe, first = sampled
    again = run_sample(recipe)
    assert again.cache_misses == 0 and again.cache_hits > 0
    assert again.stats == first.stats and again.n_rows == first.n_rows


def test_revision_rounds_turn_rejections_into_acceptances(program_reward):
    from exectune_rl.training import RewardJudge

    problems = make_arith_problems(8, seed=11)
    tasks = [p.to_task() for p in problems]
    teacher = ScriptedTeacher(problems, p_correct=0.0, p_revise=1.0)
    prompt = guide_prompt_fn(TEMPLATE)
    judge = RewardJudge(program_reward)
    none = acceptance_sample(tasks, teacher, judge, guide_prompt=prompt, k=2, revision_rounds=0)
    assert none.stats.n_accepted == 0 and none.stats.n_candidates == 16 and none.stats.acceptance_rate == 0.0
    revised = acceptance_sample(tasks, teacher, judge, guide_prompt=prompt, k=2, revision_rounds=2)
    assert revised.stats.accepted_per_round == (0, 16, 0) and revised.stats.tasks_with_accepted == 8
    assert all(c.round == 1 for c in revised.accepted)


def test_a_failing_teacher_is_infrastructure_not_a_rejected_strategy(program_reward):
    problems = make_arith_problems(3, seed=2)
    down = CallableCore(lambda req: CoreResponse.failure(CoreFailureKind.SERVER_ERROR, "503"), model="down")
    from exectune_rl.training import RewardJudge

    res = acceptance_sample([p.to_task() for p in problems], down, RewardJudge(program_reward),
                            guide_prompt=guide_prompt_fn(TEMPLATE), k=2, revision_rounds=2)  # fmt: skip
    # Never revised (nobody's mistake), never counted as a bad strategy.
    assert res.stats.n_candidates == 6 and res.stats.n_accepted == 0
    assert set(res.stats.rejections) == {"teacher_error"}


# ---------------------------------------------------------------- evaluation and the report


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    recipe = parse_recipe_dict(EvalRecipe, {
        "output_dir": str(out / "report"), "tasks": {"source": "synthetic", "seed": 4, "limit": 12}, "core": CORE,
        "reward": REWARD, "k": 2, "guide_template": TEMPLATE, "cache": {"enabled": False}, "title": "Contract ✓",
        "prices": {"program": [0.0, 0.0], "scripted-teacher(p=1.0,0.7)": [1.0, 2.0]},
        "methods": [
            {"name": "core alone"},
            {"name": "+ half | guide", "guide": {"name": "scripted", "options": {"p_correct": 0.5, "seed": 1}}},
            {"name": "+ perfect guide ✓", "guide": {"name": "scripted", "options": {"p_correct": 1.0}}},
        ],
    })  # fmt: skip
    return run_eval(recipe)


def test_eval_measures_accuracy_executability_tokens_and_money(evaluated):
    alone, half, perfect = evaluated.results
    assert [r.name for r in evaluated.results] == ["core alone", "+ half | guide", "+ perfect guide ✓"]
    assert alone.executability is None and alone.k == 0 and alone.accuracy.value == 0.0
    assert perfect.accuracy.value == 1.0 and perfect.executability.value == 1.0
    assert perfect.executability.n == 24 and perfect.format_rate == 1.0 and perfect.leak_rate == 0.0
    assert half.executability.low < half.executability.value < half.executability.high
    assert half.executability.value < perfect.executability.value
    assert perfect.guide_tokens_per_task > 0 and perfect.core_tokens_per_task >= 0
    assert perfect.cost_usd_per_task is not None and perfect.cost_usd_per_task > 0
    assert half.cost_usd_per_task is None  # this teacher has no price: unknown, never 0


def test_eval_writes_a_paper_style_report_results_and_plots(evaluated):
    out = evaluated.report_path.parent
    text = evaluated.report_path.read_text(encoding="utf-8")
    assert text.startswith("# Contract ✓")
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[0] == "Method" and any("Accuracy" in c for c in header) and any("Executability" in c for c in header)
    assert any("Guide tok" in c for c in header) and any("Core tok" in c for c in header) and any("$" in c for c in header)
    rows = lines[2:]
    assert len(rows) == 3
    for row in rows:  # a '|' in a method name is escaped: it must not add a column
        assert len(re.split(r"(?<!\\)\|", row.strip().strip("|"))) == len(header)
    assert "half \\| guide" in rows[1] and "✓" in rows[2]
    assert (out / "accuracy_vs_cost.png").read_bytes()[:8] == PNG
    assert load_results(evaluated.results_path) == list(evaluated.results)
    assert json.loads(evaluated.results_path.read_text())[2]["accuracy"]["value"] == 1.0


def test_eval_from_the_command_line_prints_the_table(tmp_path, capsys):
    recipe = _write_yaml(tmp_path / "eval.yaml", {
        "output_dir": str(tmp_path / "ignored"), "tasks": {"source": "synthetic", "limit": 3}, "core": CORE,
        "reward": REWARD, "k": 1, "guide_template": TEMPLATE, "cache": {"enabled": False},
        "methods": [{"name": "scripted", "guide": {"name": "scripted", "options": {"p_correct": 1.0}}}],
    })  # fmt: skip
    assert main(["eval", "--config", str(recipe), "--output-dir", str(tmp_path / "rep"), "--set", "k=2"]) == 0
    out = capsys.readouterr().out
    assert "| scripted | 100.0 [" in out and "| Method |" in out
    saved = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert saved[0]["k"] == 2 and not (tmp_path / "ignored").exists()


def test_a_guide_whose_calls_all_fail_is_reported_as_unknown_not_zero(program_reward):
    problems = make_arith_problems(4, seed=9)
    down = CallableCore(lambda req: CoreResponse.failure(CoreFailureKind.SERVER_ERROR, "503"), model="down")
    res = evaluate_method("down", down, [p.to_task() for p in problems], program_reward,
                          guide_prompt=guide_prompt_fn(TEMPLATE), k=2)  # fmt: skip
    assert res.accuracy is None and res.executability is None
    assert res.format_rate is None and res.leak_rate is None
    assert res.infra_failures == 4 + 8
    row = markdown_table([res]).splitlines()[2]
    assert row.startswith("| down | n/a | n/a |")
    assert MethodResult.from_dict(json.loads(json.dumps(res.to_dict()))) == res


def test_report_edge_cases(tmp_path):
    assert markdown_table([]).splitlines()[0].startswith("| Method |") and len(markdown_table([]).splitlines()) == 2
    path = write_report([], tmp_path / "empty")
    assert path.is_file() and (tmp_path / "empty" / "accuracy_vs_cost.png").read_bytes()[:8] == PNG
    odd = MethodResult("line\nbreak", proportion(1, 2), None, None, None, 0.0, 0.0, None, 1, 0, 1)
    table = markdown_table([odd])
    assert len(table.splitlines()) == 3  # a newline in a name stays on its row
    assert load_results(save_results([odd], tmp_path / "r.json")) == [odd]


def test_proportion_has_a_wilson_interval_and_rejects_impossible_counts():
    est = proportion(8, 10)
    assert isinstance(est, Estimate) and est.value == 0.8 and est.low == pytest.approx(0.49, abs=1e-3)
    assert est.high == pytest.approx(0.943, abs=1e-3) and est.n == 10
    assert proportion(0, 10).low == 0.0 and proportion(10, 10).high == 1.0
    for bad in ((11, 10), (-1, 10), (1, -1)):
        with pytest.raises(ConfigError):
            proportion(*bad)


def test_core_alone_with_an_unreachable_core_is_unknown_not_zero():
    from exectune_rl.training.components import build_reward

    down = CallableCore(lambda req: CoreResponse.failure(CoreFailureKind.SERVER_ERROR, "503"), model="down")
    reward = build_reward(dict(REWARD), down)
    try:
        res = evaluate_core_alone("alone", [p.to_task() for p in make_arith_problems(3, seed=1)], reward)
    finally:
        reward.close()
    assert res.accuracy is None and res.infra_failures == 3
    with pytest.raises(ConfigError, match="no evaluation tasks"):
        evaluate_core_alone("alone", [], reward)


# ---------------------------------------------------------------- training: SFT loss mask, report_to


def test_sft_puts_the_loss_on_the_strategy_only(sampled, tiny_model_path, tmp_path):
    pytest.importorskip("trl")
    from exectune_rl.training import build_sft_trainer

    recipe, _ = sampled
    sft = SFTRecipe(model=str(tiny_model_path), dataset=recipe.output_dir, output_dir=str(tmp_path / "sft"),
                    trainer={"max_steps": 1, "max_length": 256})  # fmt: skip
    trainer = build_sft_trainer(sft)
    assert trainer.args.completion_only_loss is not False
    row = trainer.train_dataset[0]
    ids = row["input_ids"]
    # TRL marks the trained tokens with a completion mask or with labels (-100: no loss).
    mask = row["completion_mask"] if "completion_mask" in row else [int(label != -100) for label in row["labels"]]
    assert 0 < sum(mask) < len(mask) and mask[0] == 0  # the prompt is masked out, the strategy is not
    strategy = trainer.processing_class.decode([t for t, m in zip(ids, mask) if m])
    assert strategy.lstrip().startswith("<strategy>")
    assert trainer.args.report_to in ([], ["none"], "none") and trainer.args.use_cpu


def test_trainer_fields_go_to_trl_and_report_to_is_honoured(tmp_path):
    trl = pytest.importorskip("trl")
    from exectune_rl.training.trl_utils import trainer_args

    args = trainer_args(trl.GRPOConfig, tmp_path, {"report_to": "tensorboard", "num_generations": 4, "max_steps": 2})
    assert args.report_to == ["tensorboard"] and args.num_generations == 4 and args.output_dir == str(tmp_path)
    with pytest.raises(ConfigError, match="'colour'"):
        trainer_args(trl.RLOOConfig, tmp_path, {"colour": 1})


# ---------------------------------------------------------------- the GPU check


def test_gpu_check_says_it_skipped_on_a_cpu_machine(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA machine runs the real check")
    out = tmp_path / "gpu.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--json", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "skip" in proc.stdout.lower()
    assert json.loads(out.read_text())["skipped"] is True


def test_every_error_raised_on_purpose_is_an_exectune_error():
    for exc in (ConfigError, DataError):
        assert issubclass(exc, ExecTuneError) and issubclass(exc, ValueError)
