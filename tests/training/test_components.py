"""One way to build a run: open_run, the core factory and the core's own prompt builder."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from exectune_rl.cores.program import ProgramCore, program_prompt_builder
from exectune_rl.errors import ConfigError
from exectune_rl.rewards.config import RewardConfig
from exectune_rl.tasks.prompts import core_messages
from exectune_rl.training.components import build_reward, open_run
from exectune_rl.training.config import CacheConfig, CoreConfig, RLRecipe, TaskSourceConfig


def test_open_run_builds_every_part_and_the_program_core_prompts_itself(tmp_path):
    # No branching on the core's name: the (cached) program core hands the reward its prompt builder.
    recipe = RLRecipe(model="unused", tasks=TaskSourceConfig(source="synthetic", limit=3),
                      core=CoreConfig(name="program", sandbox_options={"workers": 1}),
                      reward={"preset": "math", "nondegradation_penalty": 0.0, "math_workers": 0},
                      cache=CacheConfig(path=str(tmp_path / "cache.sqlite")))  # fmt: skip
    with ExitStack() as stack:
        run = open_run(recipe, stack)
        assert len(run.tasks) == 3 and run.problems is not None
        assert type(run.core).__name__ == "CachedCore" and run.reward.prompt_builder is program_prompt_builder
        task = run.tasks[0]
        columns = {k: [v] for k, v in task.to_dict().items()}
        [rec] = run.reward.score(completions=["<strategy>print(6 * 7)</strategy>"], **columns)
        # The strategy ran as a program (a chat prompt around it would not have run at all).
        assert rec.runs and rec.runs[0].text.strip() == "42"


def test_a_chat_core_keeps_the_default_prompt():
    from exectune_rl.cores.base import CallableCore
    from exectune_rl.sandboxes import LocalSandbox

    reward = build_reward({"preset": "math", "math_workers": 0}, CallableCore(lambda r: "#### 1"))
    assert reward.prompt_builder is core_messages
    with LocalSandbox(workers=1) as sandbox:
        program = build_reward(RewardConfig.math(math_workers=0), ProgramCore(sandbox))
        assert program.prompt_builder is program_prompt_builder
        program.close()
    reward.close()


def test_the_core_factory_names_what_a_core_accepts():
    from exectune_rl.cores.factory import make_core

    with pytest.raises(ConfigError, match="accepted --core-option keys: .*fn"):
        make_core("callable", {"bogus": 1})
    core, sandbox = make_core("program", {}, sandbox_options={"workers": 1})
    try:
        assert sandbox is not None and core.sandbox is sandbox
    finally:
        sandbox.close()
