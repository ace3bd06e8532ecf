"""Compatibility check: ExecTune's reward-model adapter as the reward model of trl 1.12's PPOTrainer.

TRL removed ``PPOTrainer`` in 1.13; up to 1.12.0 it lives in ``trl.experimental.ppo`` and takes
a reward *model*. Its ``get_reward`` helper does not call the model's ``forward``: it calls
``getattr(model, model.base_model_prefix)(input_ids=..., output_hidden_states=True, ...)`` and
then ``model.score(hidden_states[-1])``, expecting per-token reward logits (batch, length, 1).
:class:`PPORewardModel` gives :class:`exectune_rl.rewards.RewardModelAdapter` that shape: its
backbone scores each sequence with the composite reward and repeats the value over positions;
``score`` is the identity. trl 1.12 has no notion of a missing reward, so an unscorable
sequence (NaN from the adapter: infrastructure failure, unmatched prompt) gets ``--missing``
(default 0.0) and is counted in the output.

Run it inside its own environment (``run_ppo_trl112.sh`` builds one): it needs trl==1.12.0,
which the project's own ``[train]`` extra (trl>=1.14) excludes.

Everything is local: a tiny policy built here, its tokenizer trained here, a value model from
the same config, the synthetic arithmetic tasks, ``ProgramCore`` in a ``LocalSandbox``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn


class _AdapterBackbone(nn.Module):
    def __init__(self, adapter: nn.Module, missing: float) -> None:
        super().__init__()
        self.adapter = adapter
        self.missing = missing
        self.calls = 0
        self.scored = 0
        self.unscorable = 0
        self.values: list[float] = []

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **_: Any) -> SimpleNamespace:
        logits = self.adapter(input_ids=input_ids, attention_mask=attention_mask).logits  # (batch, 1)
        nan = torch.isnan(logits)
        self.calls += 1
        self.scored += int((~nan).sum())
        self.unscorable += int(nan.sum())
        self.values.extend(logits[~nan].tolist())
        filled = torch.nan_to_num(logits, nan=self.missing)
        return SimpleNamespace(hidden_states=(filled.unsqueeze(1).expand(-1, input_ids.shape[1], 1),))


class PPORewardModel(nn.Module):
    """trl 1.12 ``get_reward``-shaped wrapper of a ``RewardModelAdapter``."""

    base_model_prefix = "backbone"

    def __init__(self, adapter: nn.Module, missing: float = 0.0) -> None:
        super().__init__()
        self.backbone = _AdapterBackbone(adapter, missing)
        self.score = nn.Identity()


def _models(folder: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForSequenceClassification

    from exectune_rl.training.synthetic import make_arith_problems, synthetic_corpus
    from exectune_rl.training.tiny import TinyGuideSpec, build_tiny_guide

    path = build_tiny_guide(folder, vocab_size=1024, corpus=synthetic_corpus(make_arith_problems(300, seed=1)),
                            spec=TinyGuideSpec(hidden_size=64, intermediate_size=128, num_hidden_layers=2))  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(path)
    policy = AutoModelForCausalLM.from_pretrained(path)
    ref = AutoModelForCausalLM.from_pretrained(path)
    config = policy.config
    config.num_labels = 1
    value = LlamaForSequenceClassification(config)
    return tokenizer, policy, ref, value


def probe_get_reward(reward_model: nn.Module, tokenizer: Any, rows: list[dict[str, Any]], problems: list[Any]) -> list[float]:
    """trl 1.12's own ``get_reward`` on hand-made sequences: a correct strategy, then a wrong one.

    An untrained policy earns 0 everywhere; this shows a non-zero reward reaches PPO's
    scores through the same function PPOTrainer calls.
    """
    from trl.experimental.utils import get_reward

    from exectune_rl.training.synthetic import correct_strategy

    prompt = rows[0]["prompt"]
    answers = [correct_strategy(problems[0]), f"<strategy>\nprint({problems[0].answer + 1})\n</strategy>"]
    query = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    responses = [tokenizer(a + tokenizer.eos_token, add_special_tokens=False)["input_ids"] for a in answers]
    width = max(map(len, responses))
    pad = tokenizer.pad_token_id
    batch = torch.tensor([query + r + [pad] * (width - len(r)) for r in responses])
    _, scores, _ = get_reward(reward_model, batch, pad, len(query))
    return [float(x) for x in scores]


def run(args: argparse.Namespace) -> dict[str, Any]:
    import datasets
    import trl
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    from exectune_rl.cores.program import ProgramCore
    from exectune_rl.rewards import RewardModelAdapter
    from exectune_rl.sandboxes import LocalSandbox
    from exectune_rl.training.components import build_reward
    from exectune_rl.training.synthetic import GUIDE_INSTRUCTION, make_arith_problems

    tmp = Path(tempfile.mkdtemp(prefix="ppo-compat-"))
    tokenizer, policy, ref, value = _models(tmp / "guide")
    problems = make_arith_problems(16, seed=5)
    tasks = [p.to_task() for p in problems]
    rows, queries = [], []
    for t in tasks:
        text = tokenizer.apply_chat_template([{"role": "user", "content": f"{GUIDE_INSTRUCTION}\n{t.problem}"}],
                                             tokenize=False, add_generation_prompt=True)  # fmt: skip
        rows.append({"prompt": text, **t.to_dict()})
        queries.append({"input_ids": tokenizer(text, add_special_tokens=False)["input_ids"]})
    config = PPOConfig(
        output_dir=str(tmp / "ppo"), per_device_train_batch_size=4, gradient_accumulation_steps=1,
        total_episodes=args.episodes, num_ppo_epochs=1, num_mini_batches=1, response_length=24,
        local_rollout_forward_batch_size=4, stop_token="eos", missing_eos_penalty=None, learning_rate=1e-4,
        use_cpu=not torch.cuda.is_available(), bf16=False, report_to="none", logging_steps=1, save_strategy="no",
        num_sample_generations=0, seed=0,
    )  # fmt: skip
    start = time.perf_counter()
    with LocalSandbox(workers=2) as sandbox:
        reward = build_reward({"preset": "math", "nondegradation_penalty": 0.0, "math_workers": 0}, ProgramCore(sandbox), program_core=True)
        adapter = RewardModelAdapter(reward, tokenizer, rows)
        reward_model = PPORewardModel(adapter, missing=args.missing)
        probe = probe_get_reward(reward_model, tokenizer, rows, problems)
        trainer = PPOTrainer(
            args=config, processing_class=tokenizer, model=policy, ref_model=ref, reward_model=reward_model,
            train_dataset=datasets.Dataset.from_list(queries), value_model=value,
        )  # fmt: skip
        trainer.train()
        reward.close()
    backbone = reward_model.backbone
    history = [h for h in trainer.state.log_history if "objective/scores" in h]
    return {
        "trl_version": trl.__version__,
        "torch_version": torch.__version__,
        "ppo_steps": trainer.state.global_step,
        "episodes": args.episodes,
        "reward_model_calls": backbone.calls,
        "sequences_scored": backbone.scored,
        "sequences_unscorable": backbone.unscorable,
        "mean_reward": sum(backbone.values) / len(backbone.values) if backbone.values else None,
        "logged_scores": [h["objective/scores"] for h in history],
        "get_reward_probe_correct_then_wrong": probe,
        "runtime_s": time.perf_counter() - start,
        "ok": trainer.state.global_step > 0 and backbone.scored > 0 and probe == [1.0, 0.0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="trl 1.12 PPOTrainer with the ExecTune reward-model adapter")
    parser.add_argument("--episodes", type=int, default=16, help="PPO total_episodes (4 per step)")
    parser.add_argument("--missing", type=float, default=0.0, help="reward given to an unscorable sequence")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)
    result = run(args)
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
