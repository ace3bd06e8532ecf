"""Prompt templates: guide and core, math and code, the strategy tag, configuration errors."""

from __future__ import annotations

import dataclasses

import pytest

import exectune_rl.tasks as tasks_pkg
from exectune_rl.errors import ConfigError
from exectune_rl.tasks import (
    PromptTemplates,
    Task,
    core_messages,
    core_only_prompt,
    core_prompt,
    core_request,
    extract_strategy,
    guide_messages,
    guide_prompt,
    wrap_strategy,
)

MATH = Task("gsm8k/test/0", "math", "Tom has 3 apples and buys {2} more. How many?", answer="5")
CODE = Task("HumanEval/0", "code", "def add(a, b):\n    '''Add.'''\n", tests="assert add(1, 2) == 3", test_format="asserts", entry_point="add")


def test_package_all_matches():
    assert sorted(tasks_pkg.__all__) == sorted(set(tasks_pkg.__all__))
    for name in tasks_pkg.__all__:
        assert hasattr(tasks_pkg, name), name


def test_guide_prompts_ask_for_a_tagged_strategy_and_not_the_answer():
    math, code = guide_prompt(MATH), guide_prompt(CODE)
    assert "<strategy>...</strategy>" in math and "<strategy>...</strategy>" in code
    assert MATH.problem in math  # braces in the problem survive formatting
    assert "Do not compute or state the final answer" in math
    assert "Python" in code and "Do not write the solution code" in code


def test_core_prompts_carry_the_strategy_inside_tags():
    text = core_prompt(MATH, "  Add the two counts.  ")
    assert "<strategy>\nAdd the two counts.\n</strategy>" in text
    assert "#### <answer>" in text and MATH.problem in text
    code = core_prompt(CODE, "Return a + b.")
    assert "single fenced code block" in code and "Return a + b." in code
    alone = core_only_prompt(MATH)
    assert "<strategy>" not in alone and MATH.problem in alone


def test_configurable_tag_and_templates():
    templates = PromptTemplates(strategy_tag="plan", system="You are terse.")
    assert "<plan>...</plan>" in guide_prompt(MATH, templates)
    assert "<plan>\nAdd.\n</plan>" in core_prompt(MATH, "Add.", templates)
    msgs = guide_messages(MATH, templates)
    assert [m["role"] for m in msgs] == ["system", "user"] and msgs[0]["content"] == "You are terse."
    custom = dataclasses.replace(templates, core_math="Q: {problem}\nHint: {strategy}")
    assert core_prompt(MATH, "add", custom) == f"Q: {MATH.problem}\nHint: add"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"strategy_tag": "bad tag"}, "strategy_tag"),
        ({"core_math": "no problem here {strategy}"}, r"core_math must contain \{problem\}"),
        ({"core_code": "{problem} but no strategy"}, r"core_code must contain \{strategy\}"),
        ({"core_only_math": "{problem} {strategy}"}, r"core_only_math must not contain \{strategy\}"),
        ({"guide_code": "{problem} {answer}"}, "unknown field"),
        ({"guide_math": "{problem"}, "not a valid format string"),
    ],
)
def test_bad_templates_are_rejected_with_the_field_named(change, match):
    with pytest.raises(ConfigError, match=match):
        PromptTemplates(**change)


def test_core_request_is_tagged_for_the_ledger():
    req = core_request(MATH, "Add.", temperature=0.5, sample_index=2, metadata={"round": 1})
    assert req.metadata == {"task_id": "gsm8k/test/0", "guided": True, "round": 1}
    assert (req.temperature, req.sample_index) == (0.5, 2)
    alone = core_request(MATH, None)
    assert alone.metadata["guided"] is False and "<strategy>" not in alone.prompt_text
    assert core_messages(CODE, None)[0]["content"] == core_only_prompt(CODE)


def test_strategy_helpers():
    assert extract_strategy("I think.\n<strategy>\n Step 1. \n</strategy> tail") == "Step 1."
    assert extract_strategy("<strategy>unclosed") is None
    assert extract_strategy("<plan>p</plan>", tag="plan") == "p"
    assert extract_strategy(wrap_strategy(" Add. ")) == "Add."
