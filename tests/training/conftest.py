"""Fixtures of this test package."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # The tiny models train as fast on one thread as on two, and a second OpenMP thread that
    # spins while another process holds the other core slows training down many times over.
    try:
        import torch
    except ImportError:  # tests that need torch skip themselves
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
