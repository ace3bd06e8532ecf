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
