"""WorkerPool: worker processes fed from the event loop (the hashing workers of a crawl)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import types
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from crawlers.workerpool import WorkerCrashed, WorkerPool
from pipeline.images import ImageRejected
from tests.factories import crash, raise_not_rebuildable

T = TypeVar("T")


def with_pool(test: Callable[[WorkerPool], Awaitable[T]], workers: int = 2, **options: Any) -> T:
    pool = WorkerPool(workers, mp_context=multiprocessing.get_context("spawn"), **options)

    async def run() -> T:
        try:
            return await test(pool)
        finally:
            pool.shutdown()

    return asyncio.run(run())


def function_only_this_process_has() -> Callable[[], None]:
    """A function pickled by reference to a module that the worker cannot import."""
    module = types.ModuleType("bioleak_test_only_here")
    exec("def job():\n    pass\n", module.__dict__)
    sys.modules[module.__name__] = module
    job: Callable[[], None] = module.job
    return job


def exited(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_jobs_run_in_the_worker_processes_and_their_results_come_back() -> None:
    async def test(pool: WorkerPool) -> None:
        pids = await asyncio.gather(*(pool.run(os.getpid) for _ in range(20)))
        assert set(pids) <= set(pool.pids()) and os.getpid() not in pids
        assert await pool.run(pow, 2, 10) == 1024
        assert await pool.run(int, "ff", base=16) == 255  # keyword arguments too
        # Jobs and results much larger than a pipe: written as the pipe drains, not in one go.
        big = os.urandom(5_000_000)
        assert await pool.run(bytes, big) == big

    with_pool(test)


def test_an_exception_in_a_job_is_raised_to_its_caller_and_the_worker_goes_on() -> None:
    from crawlers.hashworker import decode_and_hash

    async def test(pool: WorkerPool) -> None:
        pid = await pool.run(os.getpid)
        with pytest.raises(ValueError):
            await pool.run(int, "not a number")
        with pytest.raises(ImageRejected) as info:  # the reason survives the trip
            await pool.run(decode_and_hash, b"<html>not an image</html>", max_bytes=1000, max_pixels=1000,
                           faces=False)  # fmt: skip
        assert info.value.reason == "not_an_image"
        with pytest.raises(RuntimeError, match="could not read the worker's answer"):
            await pool.run(raise_not_rebuildable)
        with pytest.raises(RuntimeError, match="could not read the job"):
            await pool.run(function_only_this_process_has())
        assert await pool.run(os.getpid) == pid  # the same worker, still there

    with_pool(test, workers=1)


def test_a_worker_that_dies_fails_only_the_job_it_was_running() -> None:
    async def test(pool: WorkerPool) -> None:
        first = await pool.run(os.getpid)
        # All three are sent to the one worker at once; the first kills it, and its replacement.
        outcomes = await asyncio.gather(
            pool.run(crash), pool.run(os.getpid), pool.run(os.getpid), return_exceptions=True
        )
        assert isinstance(outcomes[0], WorkerCrashed)
        [replacement] = pool.pids()
        assert outcomes[1:] == [replacement, replacement] and replacement != first  # not lost: run again
        assert exited(first)

    with_pool(test, workers=1, jobs_per_worker=3)


def test_shutdown_cancels_what_waits_and_stops_the_workers() -> None:
    async def test(pool: WorkerPool) -> None:
        await pool.run(os.getpid)
        pids = pool.pids()
        waiting = [asyncio.ensure_future(pool.run(os.getpid)) for _ in range(5)]
        await asyncio.sleep(0)  # one loop turn: the jobs are queued (one sent), none answered yet
        pool.shutdown()
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
        assert all(exited(pid) for pid in pids)
        with pytest.raises(RuntimeError):
            await pool.run(os.getpid)

    with_pool(test, workers=1, jobs_per_worker=1)


def test_a_worker_killed_between_jobs_costs_no_job() -> None:
    import signal

    async def test(pool: WorkerPool) -> None:
        first = await pool.run(os.getpid)
        os.kill(first, signal.SIGKILL)  # idle; the next job may still get into its pipe as it dies
        assert await pool.run(pow, 3, 3) == 27
        assert pool.pids() != [first]

    with_pool(test, workers=1)


def test_workers_that_keep_dying_as_they_start_stop_the_pool_with_a_clear_error() -> None:
    async def test(pool: WorkerPool) -> None:
        with pytest.raises(WorkerCrashed, match="3 worker processes in a row died as they started"):
            await pool.run(os.getpid)
        with pytest.raises(WorkerCrashed):  # at once: no worker is started for it
            await pool.run(os.getpid)
        assert pool.pids() == []

    # The initializer fails in every worker, as one that cannot build its index would.
    with_pool(test, workers=1, initializer=int, initargs=("not a number",))
