"""Session-wide fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama guide with a locally trained tokenizer, built once per test session.

    Loadable offline with ``AutoTokenizer`` / ``AutoModelForCausalLM.from_pretrained``.
    Tests must not modify the folder: copy it first if a test needs to write there.
    """
    pytest.importorskip("torch", reason="the tiny guide needs the [train] extra")
    pytest.importorskip("transformers", reason="the tiny guide needs the [train] extra")
    from exectune_rl.training.tiny import build_tiny_guide

    return build_tiny_guide(tmp_path_factory.mktemp("tiny_guide"), seed=0)


@pytest.fixture(scope="session")
def program_reward():
    """An ``ExecTuneReward`` (math preset) whose core is a ``ProgramCore`` on a real ``LocalSandbox``.

    The program core runs the strategy itself; the non-degradation baseline is off (an
    interpreter alone has nothing to run).
    """
    from exectune_rl.cores.program import ProgramCore
    from exectune_rl.sandboxes import LocalSandbox
    from exectune_rl.training.components import build_reward

    sandbox = LocalSandbox(workers=2)
    reward = build_reward({"preset": "math", "nondegradation_penalty": 0.0, "math_workers": 1}, ProgramCore(sandbox), program_core=True)
    yield reward
    reward.close()
    sandbox.close()


# Packages whose tests train tiny models.
_TRAINING_PACKAGES = ("training", "evaluation")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(request: pytest.FixtureRequest):
    # The tiny models train as fast on one thread as on two, and a second OpenMP thread that
    # spins while another process holds the other core slows training down many times over.
    if Path(str(request.node.path)).parent.name not in _TRAINING_PACKAGES:
        yield
        return
    try:
        import torch
    except ImportError:  # tests that need torch skip themselves
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
