"""WorkerPool: worker processes fed straight from the event loop, for the hashing of images.

`concurrent.futures.ProcessPoolExecutor` hands every job through two threads of the calling
process (its manager thread and its queue's feeder), and each job wakes both; in the crawl each
wake-up takes the GIL from the reactor. Measured with a trivial job of 100 KB, that is ~0.23 ms
of the caller's CPU per job, against ~0.06 ms here. And a worker that dies breaks the executor:
every job in flight fails with it, i.e. up to BIOLEAK_IMAGES_IN_FLIGHT images skipped for one
hostile file.

Here each worker has a pipe for jobs and one for results. The loop writes jobs without blocking
(a large image waits in a buffer, not on the reactor) and reads results when they are ready. A
worker holds at most `jobs_per_worker` jobs, so the next job is in its pipe when it finishes one
and the others wait in one queue for whichever worker is free first (2 per worker; with 1 the
crawl benchmark ran 9% slower, 106.9 against 118.0 listings/s, and 3 gained nothing, 118.2).
A worker gets jobs once it says it has started (its initializer ran); if workers keep dying
before that, the pool gives up with an error that says so, instead of starting one per job. A
worker that dies costs at most the job it was running (once that job has killed a second worker
too): the jobs queued behind it go to its replacement.

Frames on both pipes: an 8-byte big-endian length, then a pickle. Jobs are (function, args,
kwargs); results are (True, value) or (False, exception), after an empty frame that says the
worker is ready.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import pickle
import signal
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any

_LENGTH = struct.Struct("!Q")
_READ_SIZE = 1 << 20
_DEATHS_TO_BLAME = 2
_FAILED_STARTS_TO_GIVE_UP = 3

log = logging.getLogger(__name__)


class WorkerCrashed(Exception):
    """The worker process died while it ran this job (e.g. a decoder crashed on hostile bytes)."""


# --- in the worker process ------------------------------------------------------------------


def _read_exactly(fd: int, size: int) -> bytes | None:
    buffer = bytearray()
    while len(buffer) < size:
        chunk = os.read(fd, min(size - len(buffer), _READ_SIZE))
        if not chunk:
            return None  # the pool closed its end: time to exit
        buffer += chunk
    return bytes(buffer)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _outcome(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    try:
        outcome: tuple[bool, Any] = (True, fn(*args, **kwargs))
    except Exception as exc:
        outcome = (False, exc)
    try:
        return pickle.dumps(outcome, pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # a result or an exception that cannot be pickled
        return pickle.dumps((False, RuntimeError(f"unpicklable worker result: {exc!r}"[:500])))


def _serve(
    jobs: Connection, results: Connection, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]
) -> None:
    # The crawl decides when workers stop (by closing their pipes); a Ctrl-C is its to handle.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if initializer is not None:
        initializer(*initargs)
    jobs_fd, results_fd = jobs.fileno(), results.fileno()
    try:
        _write_all(results_fd, _LENGTH.pack(0))  # ready
    except BrokenPipeError:
        return  # the pool shut down while this worker started (a crawl that ended at once)
    while True:
        header = _read_exactly(jobs_fd, _LENGTH.size)
        payload = None if header is None else _read_exactly(jobs_fd, _LENGTH.unpack(header)[0])
        if payload is None:
            return
        try:
            fn, args, kwargs = pickle.loads(payload)  # noqa: S301 - from the pool's own process, never scraped bytes
        except Exception as exc:  # e.g. a function this process cannot import
            data = pickle.dumps((False, RuntimeError(f"could not read the job: {exc!r}"[:500])))
        else:
            data = _outcome(fn, args, kwargs)
        try:
            _write_all(results_fd, _LENGTH.pack(len(data)) + data)
        except BrokenPipeError:
            return  # the pool shut down while this job ran: nobody wants its result


# --- in the calling process -----------------------------------------------------------------


@dataclass(eq=False)
class _Job:
    payload: bytes
    future: asyncio.Future[Any]
    started: bool = False  # some of it is in the worker's pipe: if the worker dies, it may be why
    deaths: int = 0  # of workers that died while it was first in their pipe


@dataclass(eq=False)
class _Worker:
    process: Any
    jobs: Connection  # our end: write
    results: Connection  # our end: read
    sent: collections.deque[_Job] = field(default_factory=collections.deque)
    outbox: collections.deque[tuple[memoryview, _Job]] = field(default_factory=collections.deque)
    inbox: bytearray = field(default_factory=bytearray)
    writing: bool = False
    ready: bool = False  # its initializer ran: it may be sent jobs


class WorkerPool:
    def __init__(
        self,
        workers: int,
        *,
        mp_context: BaseContext,
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
        jobs_per_worker: int = 2,
        pipe_bytes: int = 0,
    ) -> None:
        if workers < 1 or jobs_per_worker < 1:
            raise ValueError("a worker pool needs at least one worker and one job per worker")
        self._size = workers
        self._context = mp_context
        self._initializer = initializer
        self._initargs = initargs
        self._jobs_per_worker = jobs_per_worker
        self._pipe_bytes = pipe_bytes
        self._workers: list[_Worker] = []
        self._queue: collections.deque[_Job] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._failed_starts = 0  # workers in a row that died before they were ready
        self._broken: str | None = None

    def pids(self) -> list[int]:
        return [worker.process.pid for worker in self._workers]

    def pipes(self) -> list[tuple[int, int]]:
        """(jobs, results) file descriptors of each worker, on this side."""
        return [(worker.jobs.fileno(), worker.results.fileno()) for worker in self._workers]

    async def run(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """fn(*args, **kwargs) in a worker. Raises what it raised, or WorkerCrashed."""
        if self._closed:
            raise RuntimeError("the worker pool is shut down")
        if self._broken is not None:
            raise WorkerCrashed(self._broken)
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            for _ in range(self._size):
                self._start_worker()
        elif loop is not self._loop:
            raise RuntimeError("a worker pool serves the event loop it started on")
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append(_Job(pickle.dumps((fn, args, kwargs), pickle.HIGHEST_PROTOCOL), future))
        self._dispatch()
        return await future

    def shutdown(self) -> None:
        """Cancel what is queued and stop the workers: each exits when its pipe closes, after the
        job it is running; one still running a second later is killed."""
        self._closed = True
        self._end(_cancel, grace=1.0)

    # -- internals --

    def _start_worker(self) -> None:
        jobs_theirs, jobs_ours = self._context.Pipe(duplex=False)
        results_ours, results_theirs = self._context.Pipe(duplex=False)
        process = self._context.Process(  # type: ignore[attr-defined]
            target=_serve, args=(jobs_theirs, results_theirs, self._initializer, self._initargs), daemon=True
        )
        process.start()
        jobs_theirs.close()
        results_theirs.close()
        for end in (jobs_ours, results_ours):
            os.set_blocking(end.fileno(), False)
            _widen(end.fileno(), self._pipe_bytes)
        worker = _Worker(process, jobs_ours, results_ours)
        assert self._loop is not None
        self._loop.add_reader(results_ours.fileno(), self._read, worker)
        self._workers.append(worker)

    def _dispatch(self) -> None:
        while self._queue:
            free = [w for w in self._workers if w.ready and len(w.sent) < self._jobs_per_worker]
            if not free:
                return
            job = self._queue.popleft()
            if job.future.done():  # cancelled while it waited
                continue
            worker = min(free, key=lambda w: len(w.sent))
            worker.sent.append(job)
            worker.outbox.append((memoryview(_LENGTH.pack(len(job.payload))), job))
            worker.outbox.append((memoryview(job.payload), job))
            self._write(worker)

    def _write(self, worker: _Worker) -> None:
        while worker.outbox:
            chunk, job = worker.outbox[0]
            try:
                written = os.write(worker.jobs.fileno(), chunk)
            except BlockingIOError:
                break
            except OSError:  # EPIPE: the worker is gone; its read end will say so too
                self._lost(worker)
                return
            job.started = True
            if written == len(chunk):
                worker.outbox.popleft()
            else:
                worker.outbox[0] = (chunk[written:], job)
        assert self._loop is not None
        if worker.outbox and not worker.writing:
            self._loop.add_writer(worker.jobs.fileno(), self._write, worker)
            worker.writing = True
        elif not worker.outbox and worker.writing:
            self._loop.remove_writer(worker.jobs.fileno())
            worker.writing = False

    def _read(self, worker: _Worker) -> None:
        try:
            data = os.read(worker.results.fileno(), _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._lost(worker)
            return
        inbox = worker.inbox
        inbox += data
        while len(inbox) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(inbox)
            if len(inbox) < _LENGTH.size + size:
                break
            payload = bytes(inbox[_LENGTH.size : _LENGTH.size + size])
            del inbox[: _LENGTH.size + size]
            if not worker.ready:
                worker.ready = True
                self._failed_starts = 0
                continue
            future = worker.sent.popleft().future
            try:
                ok, value = pickle.loads(payload)  # noqa: S301 - from a worker of this pool
            except Exception as exc:  # e.g. an exception class that cannot be rebuilt from its args
                ok, value = False, RuntimeError(f"could not read the worker's answer: {exc!r}"[:500])
            if not ok:
                _fail(future, value)
            elif not future.done():
                future.set_result(value)
        self._dispatch()

    def _lost(self, worker: _Worker) -> None:
        """A worker died: a fresh one takes its place, and the jobs sent to it are queued again,
        first in line. The job it was running fails once it has been running in two workers
        that died: one death alone may be a kill from outside while the job was on its way in."""
        if worker not in self._workers:
            return
        self._workers.remove(worker)
        self._detach(worker)
        worker.process.join(1.0)
        if not worker.ready:
            self._failed_starts += 1
            if self._failed_starts >= _FAILED_STARTS_TO_GIVE_UP:
                self._give_up(worker.process.exitcode)
                return
        if worker.sent and worker.sent[0].started:
            worker.sent[0].deaths += 1
            if worker.sent[0].deaths >= _DEATHS_TO_BLAME:
                crashed = WorkerCrashed(f"the worker died (exit code {worker.process.exitcode})")
                _fail(worker.sent.popleft().future, crashed)
        for job in worker.sent:
            job.started = False
        self._queue.extendleft(reversed(worker.sent))
        worker.sent.clear()
        if not self._closed:
            self._start_worker()
            self._dispatch()

    def _give_up(self, code: int | None) -> None:
        self._broken = (
            f"{self._failed_starts} worker processes in a row died as they started (last exit code {code}); "
            "their error is in the log above"
        )
        log.error("worker pool stopped: %s", self._broken)
        broken = self._broken
        self._end(lambda future: _fail(future, WorkerCrashed(broken)), grace=0.0)  # one exception each

    def _end(self, settle: Callable[[asyncio.Future[Any]], None], *, grace: float) -> None:
        """Settle every job queued or sent, and stop the workers: each exits when its pipe
        closes, after the job it is running; one still running after `grace` seconds is killed."""
        jobs = [*self._queue, *(job for worker in self._workers for job in worker.sent)]
        self._queue.clear()
        workers, self._workers = self._workers, []
        for worker in workers:
            self._detach(worker)
        for job in jobs:
            settle(job.future)
        for worker in workers:
            worker.process.join(grace)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()

    def _detach(self, worker: _Worker) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.remove_reader(worker.results.fileno())
            if worker.writing:
                loop.remove_writer(worker.jobs.fileno())
        worker.writing = False
        worker.outbox.clear()
        worker.jobs.close()  # the worker reads EOF and exits after its current job
        worker.results.close()


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _cancel(future: asyncio.Future[Any]) -> None:
    if not future.done() and not future.get_loop().is_closed():
        future.cancel()


def _widen(fd: int, size: int) -> None:
    """Let a pipe hold several images instead of part of one (Linux; 64 KiB by default): fewer
    wake-ups of the loop per job. Where the system refuses the size, the pipe works as before."""
    if not size or sys.platform != "linux":
        return
    import fcntl

    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
    except OSError:  # above /proc/sys/fs/pipe-max-size, or the user's pipe budget is spent
        pass
