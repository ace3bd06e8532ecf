import pytest

from exectune_rl.sandboxes import LocalSandbox


@pytest.fixture(scope="module", params=[False, True], ids=["fork", "prefork"])
def pool(request):
    """One real worker pool per test module: abuse tests run one after another on it. Each
    module runs twice: with task children forked by the worker, and with ``prefork`` (forked
    ahead by the worker's zygote; only as root, elsewhere the same as the first)."""
    with LocalSandbox(workers=2, prefork=request.param) as sb:
        yield sb


def _task_children(worker_pid: int) -> list:
    """The worker's descendants less its zygote and the spare child waiting in it (``prefork``).
    An ended task child of the zygote is reaped by it after the result is back (the worker's
    ``q``): such zombies get two seconds to go."""
    import time

    deadline = time.monotonic() + 2.0
    while True:
        found = _task_children_now(worker_pid)
        if not found or time.monotonic() > deadline or not all(_zombie(c) for c in found):
            return found
        time.sleep(0.01)


def _zombie(proc) -> bool:
    import psutil

    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _task_children_now(worker_pid: int) -> list:
    import psutil

    from exectune_rl.sandboxes._isolation import ZYGOTE_NAME

    found = []
    for c in psutil.Process(worker_pid).children(recursive=True):
        try:
            if c.name() == ZYGOTE_NAME and c.ppid() == worker_pid:
                continue
            if c.uids().real == 0 and psutil.Process(c.ppid()).name() == ZYGOTE_NAME:
                continue  # the spare: a child of the zygote that has no task yet (tasks run as their own uid)
        except psutil.NoSuchProcess:
            continue
        found.append(c)
    return found


@pytest.fixture
def task_children():
    """``task_children(worker_pid)``: what is left of tasks under a worker (its spare child not counted)."""
    return _task_children
