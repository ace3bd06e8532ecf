"""The offline end-to-end recipe on SYNTHETIC data: ``exectune demo``.

Runs every step of the real recipe on a CPU in a few minutes, with nothing downloaded:

1. synthetic arithmetic word problems, split into disjoint train / RL / held-out slices;
2. teacher-guided acceptance sampling with the SCRIPTED teacher (it writes correct and
   deliberately flawed Python strategies) and ``ProgramCore`` running each one in a
   ``LocalSandbox``, scored by ``ExecTuneReward``;
3. a tiny guide built from a config with a tokenizer trained locally (the *untrained* guide);
4. SFT warm start on the accepted strategies (TRL ``SFTTrainer``);
5. GRPO from the SFT guide with ``ExecTuneReward`` (TRL ``GRPOTrainer``);
6. ``exectune eval`` on the held-out slice: untrained / SFT / GRPO guides, each with its
   guide-averaged executability and interval, plus plots.

Every step writes its recipe next to its outputs, so each can be rerun alone with the
matching ``exectune`` subcommand. Numbers from this recipe say the machinery learns; they
say nothing about real models or benchmarks.

Example:
    >>> outcome = run_demo(DemoConfig(output_dir="outputs/demo"))     # doctest: +SKIP
    >>> print(outcome.report_path.read_text())                        # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from exectune_rl.errors import ConfigError
from exectune_rl.evaluation.config import EvalRecipe, MethodConfig
from exectune_rl.evaluation.results import MethodResult
from exectune_rl.training.config import CacheConfig, CoreConfig, RLRecipe, SampleRecipe, SFTRecipe, TaskSourceConfig
from exectune_rl.training.recipe import check_fields
from exectune_rl.training.synthetic import GUIDE_INSTRUCTION

__all__ = ["DemoConfig", "DemoOutcome", "run_demo", "QUICK"]

logger = logging.getLogger(__name__)

GUIDE_TEMPLATE = GUIDE_INSTRUCTION + "\n{problem}"


@dataclass
class DemoConfig:
    """Sizes and hyper-parameters of the synthetic end-to-end recipe (defaults: a few minutes on 2 cores)."""

    output_dir: str = "outputs/demo"
    seed: int = 0
    n_train: int = 800
    n_rl: int = 200
    n_eval: int = 80
    teacher_k: int = 2
    revision_rounds: int = 1
    p_correct: float = field(default=0.5, metadata={"help": "scripted teacher: first-attempt accuracy"})
    p_revise: float = field(default=0.7, metadata={"help": "scripted teacher: accuracy after feedback"})
    vocab_size: int = 1024
    hidden_size: int = 128
    num_layers: int = 2
    sft_epochs: float = 6.0
    sft_lr: float = 3e-3
    sft_batch: int = 16
    grpo_steps: int = 60
    grpo_generations: int = 8
    grpo_prompts_per_step: int = 8
    grpo_lr: float = 3e-4
    grpo_temperature: float = 1.0
    eval_k: int = 8
    eval_temperature: float = 1.0
    max_new_tokens: int = 48
    workers: int = 2
    torch_threads: int = field(default=1, metadata={"help": "CPU threads for torch (0: leave torch's default)"})

    def __post_init__(self) -> None:
        check_fields(self)
        counts = ("n_train", "n_rl", "n_eval", "teacher_k", "grpo_generations", "grpo_prompts_per_step", "eval_k",
                  "workers", "grpo_steps", "max_new_tokens", "sft_batch", "hidden_size", "num_layers")  # fmt: skip
        for name in counts:
            if getattr(self, name) < 1:
                raise ConfigError(f"demo {name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("sft_epochs", "sft_lr", "grpo_lr", "grpo_temperature"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"demo {name} must be > 0, got {getattr(self, name)!r}")
        for name in ("p_correct", "p_revise"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"demo {name} must be in [0, 1], got {getattr(self, name)!r}")
        if self.revision_rounds < 0 or self.eval_temperature < 0 or self.torch_threads < 0:
            raise ConfigError(
                f"demo revision_rounds, eval_temperature and torch_threads must be >= 0, got "
                f"{self.revision_rounds!r}, {self.eval_temperature!r}, {self.torch_threads!r}"
            )
        if self.grpo_generations < 2:
            raise ConfigError(f"grpo_generations must be >= 2 (GRPO compares completions), got {self.grpo_generations}")


# The shortened run used by the test suite: the same steps, smaller and shorter.
QUICK: dict[str, Any] = {
    "n_train": 600, "n_rl": 64, "n_eval": 40, "sft_epochs": 6.0, "grpo_steps": 2,
    "grpo_generations": 4, "grpo_prompts_per_step": 2, "eval_k": 2,
}  # fmt: skip


@dataclass(frozen=True)
class DemoOutcome:
    """Where everything went, and the held-out results per guide."""

    output_dir: Path
    report_path: Path
    results: tuple[MethodResult, ...]
    acceptance: dict[str, Any]
    timings_s: dict[str, float]


def _reward() -> dict[str, Any]:
    # The program core alone has nothing to run, so the non-degradation baseline is moot.
    return {"preset": "math", "nondegradation_penalty": 0.0, "math_workers": 1}


def _recipes(cfg: DemoConfig) -> tuple[SampleRecipe, SFTRecipe, RLRecipe, EvalRecipe]:
    out = Path(cfg.output_dir)
    core = CoreConfig(name="program", sandbox="local", sandbox_options={"workers": cfg.workers}, cached=True)
    cache = CacheConfig(path=str(out / "cache.sqlite"))
    train = TaskSourceConfig(source="synthetic", seed=cfg.seed, offset=0, limit=cfg.n_train)
    rl_tasks = TaskSourceConfig(source="synthetic", seed=cfg.seed, offset=cfg.n_train, limit=cfg.n_rl)
    held_out = TaskSourceConfig(source="synthetic", seed=cfg.seed, offset=cfg.n_train + cfg.n_rl, limit=cfg.n_eval)
    sample = SampleRecipe(
        output_dir=str(out / "sample"), tasks=train, core=core, reward=_reward(), k=cfg.teacher_k,
        revision_rounds=cfg.revision_rounds, guide_template=GUIDE_TEMPLATE, cache=cache,
        teacher=CoreConfig(name="scripted", options={"p_correct": cfg.p_correct, "p_revise": cfg.p_revise, "seed": cfg.seed}),
    )  # fmt: skip
    sft = SFTRecipe(
        model=str(out / "untrained"), dataset=str(out / "sample"), output_dir=str(out / "sft"),
        trainer={"num_train_epochs": cfg.sft_epochs, "learning_rate": cfg.sft_lr, "per_device_train_batch_size": cfg.sft_batch,
                 "lr_scheduler_type": "cosine", "warmup_steps": 10, "logging_steps": 10, "max_length": 256, "seed": cfg.seed},
    )  # fmt: skip
    batch = cfg.grpo_generations * cfg.grpo_prompts_per_step
    rl = RLRecipe(
        model=str(out / "sft"), output_dir=str(out / "grpo"), algorithm="grpo", tasks=rl_tasks, core=core,
        reward=_reward(), guide_template=GUIDE_TEMPLATE, cache=cache,
        trainer={"max_steps": cfg.grpo_steps, "learning_rate": cfg.grpo_lr, "per_device_train_batch_size": batch,
                 "num_generations": cfg.grpo_generations, "max_completion_length": cfg.max_new_tokens,
                 "temperature": cfg.grpo_temperature, "beta": 0.0, "logging_steps": 1, "seed": cfg.seed},
    )  # fmt: skip
    methods = [
        MethodConfig(name="untrained guide", model=str(out / "untrained")),
        MethodConfig(name="+ SFT guide", model=str(out / "sft"), training_log=str(out / "sft")),
        MethodConfig(name="+ GRPO guide", model=str(out / "grpo"), training_log=str(out / "grpo")),
    ]
    ev = EvalRecipe(
        output_dir=str(out / "report"), methods=methods, tasks=held_out, core=core, reward=_reward(), k=cfg.eval_k,
        temperature=cfg.eval_temperature, max_new_tokens=cfg.max_new_tokens, guide_template=GUIDE_TEMPLATE, cache=cache,
        title="ExecTune synthetic end-to-end recipe (SYNTHETIC data, scripted teacher, tiny guide)",
    )  # fmt: skip
    return sample, sft, rl, ev


def _build_untrained(cfg: DemoConfig, sample: SampleRecipe, path: str) -> None:
    from exectune_rl.training.components import synthetic_problems
    from exectune_rl.training.synthetic import synthetic_corpus
    from exectune_rl.training.tiny import TinyGuideSpec, build_tiny_guide

    problems = synthetic_problems(sample.tasks)
    corpus = synthetic_corpus(problems) + [GUIDE_TEMPLATE.format(problem=p.text) for p in problems]
    spec = TinyGuideSpec(hidden_size=cfg.hidden_size, intermediate_size=2 * cfg.hidden_size, num_hidden_layers=cfg.num_layers)
    build_tiny_guide(path, vocab_size=cfg.vocab_size, seed=cfg.seed, corpus=corpus, spec=spec)


def run_demo(cfg: DemoConfig) -> DemoOutcome:
    """Run the whole synthetic recipe and write the report under ``cfg.output_dir/report``.

    Args:
        cfg: Sizes and hyper-parameters.

    Returns:
        A :class:`DemoOutcome`.
    """
    import torch

    torch.manual_seed(cfg.seed)
    threads = torch.get_num_threads()
    if cfg.torch_threads > 0:
        # A model this small trains as fast on one thread; a second OpenMP thread that spins
        # while another process holds the other core slows every step down many times over.
        torch.set_num_threads(cfg.torch_threads)
    try:
        return _run(cfg)
    finally:
        torch.set_num_threads(threads)


def _run(cfg: DemoConfig) -> DemoOutcome:
    from exectune_rl.evaluation.run import run_eval
    from exectune_rl.training.pipeline import run_grpo, run_sample
    from exectune_rl.training.sft import run_sft

    sample, sft, rl, ev = _recipes(cfg)
    timings: dict[str, float] = {}

    def step(name: str, fn: Any, *args: Any) -> Any:
        logger.info("demo: %s ...", name)
        t0 = time.perf_counter()
        value = fn(*args)
        timings[name] = round(time.perf_counter() - t0, 2)
        logger.info("demo: %s done in %.1fs", name, timings[name])
        return value

    sampled = step("acceptance sampling", run_sample, sample)
    step("build untrained guide", _build_untrained, cfg, sample, sft.model)
    step("sft", run_sft, sft)
    step("grpo", run_grpo, rl)
    notes = (
        "SYNTHETIC recipe: arithmetic word problems; the guide writes a Python program as its strategy, "
        "ProgramCore runs it in a LocalSandbox and the printed number is checked against the gold answer. "
        "The teacher is SCRIPTED (correct and deliberately flawed programs), not a model.",
        f"Acceptance sampling: {sampled.stats.n_accepted} of {sampled.stats.n_candidates} teacher strategies accepted "
        f"({100 * sampled.stats.acceptance_rate:.1f}%), rejections {sampled.stats.rejections}; "
        f"{sampled.n_rows} SFT rows.",
        f"Step timings (s): {timings}.",
    )
    outcome = step("evaluation", lambda: run_eval(ev, notes=notes))
    summary = {"config": asdict(cfg), "acceptance": sampled.stats.to_dict(), "timings_s": timings,
               "results": [r.to_dict() for r in outcome.results]}  # fmt: skip
    (Path(cfg.output_dir) / "demo_summary.json").write_text(json.dumps(summary, indent=1))
    return DemoOutcome(Path(cfg.output_dir), outcome.report_path, outcome.results, sampled.stats.to_dict(), timings)
