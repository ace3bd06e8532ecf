import pytest

from exectune_rl.sandboxes import LocalSandbox


@pytest.fixture(scope="module")
def pool():
    """One real worker pool per test module: abuse tests run one after another on it."""
    with LocalSandbox(workers=2) as sb:
        yield sb
