"""ExecTune's verl adapter loaded and called through verl's own loader (``get_custom_reward_fn``).

Run by ``run_verl.sh`` in an environment of its own (verl 0.9 needs transformers < 5.11). For
``compute_score`` and ``compute_score_async``, by ``pkg://`` module and by file path, verl's
``get_custom_reward_fn`` loads the function from a ``custom_reward_function`` config and binds
``reward_kwargs``; the result is called with the keywords verl's naive reward manager passes
(awaited when verl sees a coroutine function), on rows of the bundled HumanEval sample, and
compared with ``ExecTuneReward`` on the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import sys

import verl
from omegaconf import OmegaConf
from verl.trainer.ppo.reward import get_custom_reward_fn

import exectune_rl.adapters.verl as adapter
from exectune_rl.adapters._scoring import get_scorer
from exectune_rl.rewards.sample import iter_sample


def _call(fn, row):
    kwargs = dict(data_source="humaneval", solution_str=row["completion"], ground_truth=row["task_id"],
                  extra_info={"core_output": row["core_output"], "core_only_output": row["core_only_output"],
                              "num_turns": None, "rollout_reward_scores": {}})  # fmt: skip
    if inspect.iscoroutinefunction(fn):
        return asyncio.run(fn(**kwargs))
    return fn(**kwargs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--rows", type=int, default=12)
    args = ap.parse_args(argv)
    rows = list(iter_sample())[: args.rows]
    expected = [r.reward for r in get_scorer().run.score_rows(rows)]
    checks = []
    for path in ("pkg://exectune_rl.adapters.verl", adapter.__file__):
        for name in ("compute_score", "compute_score_async"):
            section = {"path": path, "name": name, "reward_kwargs": {"missing_score": None}}
            cfg = OmegaConf.create({"reward": {"custom_reward_function": section}})  # verl 0.9 reads reward.custom_reward_function
            fn = get_custom_reward_fn(cfg)
            results = [_call(fn, r) for r in rows]
            checks.append({
                "path": path if path.startswith("pkg://") else "file",
                "name": name,
                "verl_sees_coroutine": inspect.iscoroutinefunction(fn),
                "scores_equal_exectune_reward": [res["score"] for res in results] == expected,
                "same_keys_every_row": len({tuple(res) for res in results}) == 1,
                "statuses": sorted({res["status"] for res in results}),
            })  # fmt: skip
    ok = all(c["scores_equal_exectune_reward"] and c["same_keys_every_row"] for c in checks) and [
        c["verl_sees_coroutine"] for c in checks
    ] == [False, True, False, True]
    result = {"verl_version": verl.__version__, "rows": len(rows), "checks": checks, "ok": ok}
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
