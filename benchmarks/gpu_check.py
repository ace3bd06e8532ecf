"""GPU check: TransformersCore batched vs one-by-one, and a few GRPO steps on the GPU.

Where CUDA is present this script (well under 5 minutes):

1. builds a guide-sized Llama locally (tokenizer trained here, random weights; nothing is
   downloaded) and generates greedy completions for the same prompts with
   ``TransformersCore`` batched and one by one: the share of identical outputs and the
   throughput ratio;
2. runs a few GRPO steps (TRL ``GRPOTrainer``, ``ExecTuneReward`` with ``ProgramCore`` in a
   ``LocalSandbox`` on the synthetic tasks) on the GPU and reports seconds per step.

It prints a table and, with ``--json PATH``, writes the numbers. On a machine without CUDA it
says it skipped and exits 0 (``--allow-cpu`` runs the same checks on the CPU, smaller, to
try the script itself).

    python benchmarks/gpu_check.py --json gpu_check.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _prompts(n: int) -> list[str]:
    from exectune_rl.training.synthetic import GUIDE_INSTRUCTION, make_arith_problems

    return [f"{GUIDE_INSTRUCTION}\n{p.text}" for p in make_arith_problems(n, seed=7)]


def _build_model(folder: Path, cuda: bool) -> Path:
    from exectune_rl.training.synthetic import make_arith_problems, synthetic_corpus
    from exectune_rl.training.tiny import TinyGuideSpec, build_tiny_guide

    # Big enough that batching matters on a GPU (~40M parameters), small enough to build fast.
    spec = TinyGuideSpec(hidden_size=512, intermediate_size=1536, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=4)
    if not cuda:
        spec = TinyGuideSpec(hidden_size=128, intermediate_size=256, num_hidden_layers=2)
    corpus = synthetic_corpus(make_arith_problems(400, seed=1))
    return build_tiny_guide(folder, vocab_size=2048, seed=0, corpus=corpus, spec=spec)


def check_batching(model_path: Path, n_prompts: int, max_tokens: int, batch_size: int) -> dict[str, Any]:
    """Greedy outputs batched vs one by one: equality and throughput."""
    import torch

    from exectune_rl.cores import CoreRequest
    from exectune_rl.cores.transformers import TransformersCore

    requests = [CoreRequest.from_prompt(p, max_tokens=max_tokens, temperature=0.0) for p in _prompts(n_prompts)]
    batched = TransformersCore(str(model_path), batch_size=batch_size)
    single = TransformersCore(batched.hf_model, batched.tokenizer, batch_size=1)
    batched.generate(requests[:2])  # warm-up: CUDA context, kernels
    timings = {}
    outputs = {}
    for name, core in (("batched", batched), ("one_by_one", single)):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        outputs[name] = core.generate(requests)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        timings[name] = time.perf_counter() - start
    equal = sum(a.text == b.text for a, b in zip(outputs["batched"], outputs["one_by_one"]))
    tokens = sum(r.completion_tokens or 0 for r in outputs["batched"])
    return {
        "device": batched.device,
        "parameters": batched.hf_model.num_parameters(),
        "prompts": n_prompts,
        "batch_size": batch_size,
        "max_tokens": max_tokens,
        "identical_outputs": equal / n_prompts,
        "batched_s": timings["batched"],
        "one_by_one_s": timings["one_by_one"],
        "batched_tokens_per_s": tokens / timings["batched"],
        "throughput_ratio": timings["one_by_one"] / timings["batched"],
        "errors": sum(not r.ok for r in outputs["batched"]) + sum(not r.ok for r in outputs["one_by_one"]),
    }


def check_grpo(model_path: Path, out_dir: Path, steps: int, cuda: bool) -> dict[str, Any]:
    """A few GRPO steps with ExecTuneReward on the device; seconds per step."""
    from exectune_rl.cores.program import ProgramCore
    from exectune_rl.sandboxes import LocalSandbox
    from exectune_rl.training.components import build_reward
    from exectune_rl.training.config import RLRecipe
    from exectune_rl.training.rl import run_rl
    from exectune_rl.training.synthetic import GUIDE_INSTRUCTION, arith_tasks

    trainer = {
        "max_steps": steps, "per_device_train_batch_size": 32, "num_generations": 8, "max_completion_length": 48,
        "logging_steps": 1, "beta": 0.0, "learning_rate": 1e-4, "bf16": cuda, "use_cpu": not cuda,
    }  # fmt: skip
    recipe = RLRecipe(model=str(model_path), output_dir=str(out_dir), algorithm="grpo", trainer=trainer)
    with LocalSandbox(workers=4 if cuda else 2) as sandbox:
        reward = build_reward({"preset": "math", "nondegradation_penalty": 0.0, "math_workers": 1}, ProgramCore(sandbox), program_core=True)
        try:
            result = run_rl(recipe, tasks=arith_tasks(64, seed=3), reward=reward,
                            guide_prompt=lambda t: f"{GUIDE_INSTRUCTION}\n{t.problem}")  # fmt: skip
        finally:
            reward.close()
    history = json.loads((out_dir / "training_log.json").read_text())["log_history"]
    logged = sorted({k for h in history for k in h if k.startswith("exectune/")})
    return {"steps": result.steps, "runtime_s": result.runtime_s, "s_per_step": result.runtime_s / max(1, result.steps),
            "first_reward": result.first_reward, "last_reward": result.last_reward, "reward_components_logged": logged}  # fmt: skip


def _table(report: dict[str, Any]) -> str:
    b, g = report["batching"], report["grpo"]
    rows = [
        ("device", b["device"]),
        ("model parameters", f"{b['parameters']:,}"),
        ("identical greedy outputs (batched vs 1-by-1)", f"{100 * b['identical_outputs']:.1f}%"),
        ("batched generation", f"{b['batched_s']:.2f} s ({b['batched_tokens_per_s']:.0f} tok/s)"),
        ("one-by-one generation", f"{b['one_by_one_s']:.2f} s"),
        ("throughput ratio (batched / 1-by-1)", f"{b['throughput_ratio']:.1f}x"),
        ("GRPO steps", f"{g['steps']} in {g['runtime_s']:.1f} s ({g['s_per_step']:.2f} s/step)"),
        ("GRPO reward first -> last", f"{g['first_reward']} -> {g['last_reward']}"),
        ("reward components logged", str(len(g["reward_components_logged"]))),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the numbers here")
    parser.add_argument("--allow-cpu", action="store_true", help="run on the CPU when CUDA is absent (small sizes)")
    parser.add_argument("--prompts", type=int, default=None, help="prompts for the batching check")
    parser.add_argument("--grpo-steps", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("gpu_check: SKIPPED: torch is not installed (pip install 'exectune-rl[train]')")
        return 0
    cuda = torch.cuda.is_available()
    if not cuda and not args.allow_cpu:
        print("gpu_check: SKIPPED: no CUDA device on this machine (use --allow-cpu to try the script on the CPU)")
        if args.json:
            args.json.write_text(json.dumps({"skipped": True, "reason": "no CUDA device"}, indent=2))
        return 0
    n_prompts = args.prompts or (128 if cuda else 16)
    steps = args.grpo_steps or (5 if cuda else 2)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        model = _build_model(Path(tmp) / "guide", cuda)
        report: dict[str, Any] = {"skipped": False, "cuda": cuda}
        if cuda:
            report["gpu"] = torch.cuda.get_device_name(0)
        report["batching"] = check_batching(model, n_prompts, max_tokens=64 if cuda else 16, batch_size=64 if cuda else 8)
        report["grpo"] = check_grpo(model, Path(tmp) / "grpo", steps, cuda)
    report["total_s"] = time.perf_counter() - start
    print(_table(report))
    print(f"total {report['total_s']:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
