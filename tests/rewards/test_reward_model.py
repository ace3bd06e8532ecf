"""The reward-model adapter: token ids in, (batch, 1) reward logits out."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from exectune_rl.cores.base import CallableCore, CoreRequest
from exectune_rl.errors import ConfigError
from exectune_rl.rewards import ExecTuneReward, RewardConfig
from reward_testlib import strategy_of

torch = pytest.importorskip("torch", reason="the adapter needs the [train] extra")
transformers = pytest.importorskip("transformers", reason="the adapter needs the [train] extra")


def core(request: CoreRequest) -> str:
    strategy = strategy_of(request) or ""
    return "#### 4" if "subtract" in strategy else "#### 5"


ROWS = [
    {"prompt": "Plan: what is 2+3?", "problem": "What is 2 + 3?", "answer": "5"},
    {"prompt": "Plan: what is 9-4?", "problem": "What is 9 - 4?", "answer": "5"},
]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_path: Path) -> Any:
    return transformers.AutoTokenizer.from_pretrained(str(tiny_model_path))


@pytest.fixture(scope="module")
def adapter(tokenizer: Any) -> Any:
    from exectune_rl.rewards import RewardModelAdapter

    reward = ExecTuneReward(RewardConfig.math(math_workers=0, nondegradation_penalty=0.0), core=CallableCore(core))
    return RewardModelAdapter(reward, tokenizer, rows=ROWS)


def _encode(tokenizer: Any, texts: list[str], side: str) -> dict[str, Any]:
    return tokenizer(text=texts, return_tensors="pt", padding=True, padding_side=side, add_special_tokens=False)


@pytest.mark.parametrize("side", ["right", "left"])
def test_logits_match_the_composite(adapter: Any, tokenizer: Any, side: str) -> None:
    texts = [
        ROWS[0]["prompt"] + " <strategy>Add the two numbers.</strategy>",
        ROWS[1]["prompt"] + " <strategy>subtract 4 from 9</strategy>",
        ROWS[0]["prompt"] + " no tags",
        "An unknown prompt <strategy>x</strategy>",
    ]
    out = adapter(**_encode(tokenizer, texts, side))
    assert out.logits.shape == (4, 1) and out.logits.dtype == torch.float32
    values = out.logits[:, 0].tolist()
    assert values[:3] == [1.0, 0.0, 0.0]  # correct, wrong answer, format gate
    assert math.isnan(values[3])  # no dataset row: NaN, which TRL leaves out of its sums
    assert out[0] is out.logits


def test_fenced_code_in_the_completion_survives_decoding(adapter: Any, tokenizer: Any) -> None:
    # The cut between prompt and completion keeps the completion's newlines, so leak checks see fences.
    match = adapter.match(ROWS[0]["prompt"] + "\n<strategy>\n```python\nx = 1\n```\n</strategy>")
    assert match is not None and "```python\nx = 1\n```" in match[1]


def test_chat_prompts_are_rendered_with_the_template(tokenizer: Any) -> None:
    from exectune_rl.rewards import RewardModelAdapter

    reward = ExecTuneReward(RewardConfig.math(math_workers=0, nondegradation_penalty=0.0), core=CallableCore(core))
    rows = [{"prompt": [{"role": "user", "content": "Plan: 2+3?"}], "problem": "What is 2 + 3?", "answer": "5"}]
    chat = RewardModelAdapter(reward, tokenizer, rows=rows)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Plan: 2+3?"}, {"role": "assistant", "content": "<strategy>Add.</strategy>"}], tokenize=False
    )
    out = chat(**_encode(tokenizer, [text], "right"))
    assert out.logits.tolist() == [[1.0]]


def test_device_and_config(adapter: Any) -> None:
    assert adapter.config._name_or_path == "exectune"
    assert list(adapter.parameters()) == [] and adapter.to("cpu") is adapter


def test_rows_need_the_prompt_column(tokenizer: Any) -> None:
    from exectune_rl.rewards import RewardModelAdapter

    reward = ExecTuneReward(RewardConfig.math(math_workers=0), core=CallableCore(core))
    with pytest.raises(ConfigError, match="'prompt'"):
        RewardModelAdapter(reward, tokenizer, rows=[{"problem": "x"}])
    with pytest.raises(ConfigError, match="ExecTuneReward"):
        RewardModelAdapter(object(), tokenizer, rows=ROWS)
