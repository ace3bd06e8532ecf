"""YAML recipes -> dataclasses: conversions, overrides, and clear errors naming the bad key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from exectune_rl.errors import ConfigError
from exectune_rl.evaluation.config import EvalRecipe
from exectune_rl.training.config import RLRecipe, SampleRecipe, SFTRecipe, TaskSourceConfig
from exectune_rl.training.recipe import apply_overrides, load_yaml, parse_recipe, parse_recipe_dict

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass
class Inner:
    n: int = 1
    name: str = "x"


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    ratio: float = 0.5
    items: list[str] = field(default_factory=list)
    opt: int | None = None
    flag: bool = False
    extra: dict = field(default_factory=dict)


def test_nested_values_are_converted_to_the_annotated_types():
    out = parse_recipe_dict(Outer, {"inner": {"n": "3"}, "ratio": 1, "items": ["a"], "opt": None, "flag": True})
    assert out.inner == Inner(n=3, name="x")
    assert out.ratio == 1.0 and isinstance(out.ratio, float)
    assert out.items == ["a"] and out.opt is None and out.flag is True


def test_unknown_key_is_named_with_its_path_and_the_known_ones():
    with pytest.raises(ConfigError, match=r"inner: unknown key\(s\) 'm'; known: n, name"):
        parse_recipe_dict(Outer, {"inner": {"m": 1}})


@pytest.mark.parametrize(
    "data, message",
    [
        ({"inner": {"n": 2.5}}, "inner.n must be an integer"),
        ({"flag": "yes"}, "flag must be true or false"),
        ({"ratio": "fast"}, "ratio must be float"),
        ({"items": "a"}, "items must be a list"),
        ({"inner": 3}, "inner must be a mapping"),
    ],
)
def test_wrong_types_are_named(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_recipe_dict(Outer, data)


def test_missing_required_key_is_named():
    with pytest.raises(ConfigError, match="missing required key\\(s\\) output_dir"):
        parse_recipe_dict(SampleRecipe, {})


def test_overrides_parse_yaml_scalars_and_create_sections():
    data = apply_overrides({"trainer": {"max_steps": 5}}, ["trainer.max_steps=20", "k=3", "tasks.source=jsonl", "x.y=1e-3"])
    assert data == {"trainer": {"max_steps": 20}, "k": 3, "tasks": {"source": "jsonl"}, "x": {"y": 1e-3}}
    with pytest.raises(ConfigError, match="key.sub=value"):
        apply_overrides({}, ["novalue"])
    with pytest.raises(ConfigError, match="'k' is not a mapping"):
        apply_overrides({"k": 1}, ["k.x=2"])


def test_recipe_validation_runs(tmp_path):
    with pytest.raises(ConfigError, match="algorithm must be 'grpo' or 'rloo'"):
        parse_recipe_dict(RLRecipe, {"model": "m", "algorithm": "ppo"})
    with pytest.raises(ConfigError, match="tasks.source 'jsonl' needs tasks.path"):
        TaskSourceConfig(source="jsonl")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_yaml(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_yaml(tmp_path / "missing.yaml")


_KIND = {"sample": SampleRecipe, "sft": SFTRecipe, "grpo": RLRecipe, "rloo": RLRecipe, "eval": EvalRecipe}


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_recipe_parses(path):
    # The shipped recipes are documentation: each must parse into its dataclass.
    kind = path.stem.split("_")[-1]
    recipe = parse_recipe(_KIND[kind], path)
    assert recipe.output_dir


def test_overrides_apply_on_top_of_a_file():
    recipe = parse_recipe(RLRecipe, EXAMPLES / "synthetic_grpo.yaml", ["trainer.max_steps=3", "algorithm=rloo"])
    assert recipe.trainer["max_steps"] == 3 and recipe.algorithm == "rloo"
    assert recipe.trainer["num_generations"] == 8  # untouched fields survive
