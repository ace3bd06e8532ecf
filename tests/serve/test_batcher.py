"""The batcher coalesces requests its clients are about to send, and a lone client never waits."""

from __future__ import annotations

import asyncio
import threading

from exectune_rl.serve.batcher import Batcher


def _recording_scorer(batches: list[int], delay: float = 0.02):
    lock = threading.Lock()

    def score(rows):
        with lock:
            batches.append(len(rows))
        threading.Event().wait(delay)
        return [r * 10 for r in rows]

    return score


def test_clients_answered_together_are_batched_together_when_they_come_back_staggered():
    def scenario_batches() -> list[int]:
        batches: list[int] = []

        async def scenario():
            # The scorer outlasts the clients' stagger (21 ms), so the first round's clients are
            # all seen together; recent_s and window_s are long enough for a loaded machine.
            b = Batcher(_recording_scorer(batches, delay=0.05), batch_rows=64, window_s=1.0, max_queued=64, recent_s=60.0)
            b.start()

            async def client(i: int, rounds: int):
                out = []
                for _ in range(rounds):
                    await asyncio.sleep(0.003 * i)  # the clients come back one after another
                    out.append(await b.submit([i], 10.0))
                return out

            results = await asyncio.gather(*(client(i, 3) for i in range(8)))
            await b.drain()
            assert b.recent_concurrency() >= 8
            return results

        assert asyncio.run(scenario()) == [[[i * 10]] * 3 for i in range(8)]
        assert sum(batches) == 24
        return batches

    # After the first batch the batcher knows 8 clients are about and waits for them all:
    # 24 staggered requests in 4 batches (without that memory, 6: the fast client of each round
    # is scored alone). A machine loaded enough to delay a client past the scorer can split a
    # round: the best of three runs is judged.
    runs = []
    for _ in range(3):
        runs.append(scenario_batches())
        if len(runs[-1]) <= 4:
            break
    best = min(runs, key=len)
    assert len(best) <= 4 and max(best) == 8, runs


def test_a_lone_client_is_never_held_back_by_the_window():
    batches: list[int] = []

    async def scenario():
        b = Batcher(_recording_scorer(batches, 0.0), batch_rows=64, window_s=30.0, max_queued=64)
        b.start()
        for i in range(5):
            assert await asyncio.wait_for(b.submit([i], 60.0), 5.0) == [i * 10]
        await b.drain()

    asyncio.run(scenario())
    assert batches == [1] * 5


def test_a_batch_waits_for_missing_company_at_most_the_window():
    batches: list[int] = []

    async def scenario():
        b = Batcher(_recording_scorer(batches, 0.0), batch_rows=64, window_s=0.05, max_queued=64, recent_s=60.0)
        b.start()
        await asyncio.gather(*(b.submit([i], 10.0) for i in range(6)))  # six at once: recent concurrency 6
        assert b.recent_concurrency() >= 6
        # Now one alone: the batch waits for the other five, but no longer than the window.
        assert await asyncio.wait_for(b.submit([7], 10.0), 5.0) == [70]
        await b.drain()

    asyncio.run(scenario())
    assert batches[-1] == 1
    assert sum(batches) == 7


def test_a_full_batch_does_not_wait():
    batches: list[int] = []

    async def scenario():
        b = Batcher(_recording_scorer(batches, 0.0), batch_rows=4, window_s=30.0, max_queued=64, recent_s=60.0)
        b.start()
        await asyncio.gather(*(b.submit([i], 10.0) for i in range(8)))
        # 8 recently held, but the next 4 fill a batch: it leaves without waiting for the window.
        out = await asyncio.wait_for(asyncio.gather(*(b.submit([i], 60.0) for i in range(4))), 5.0)
        await b.drain()
        return out

    assert asyncio.run(scenario()) == [[i * 10] for i in range(4)]
    assert all(n <= 4 for n in batches)
