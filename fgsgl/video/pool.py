"""Running video tasks: downloads ahead, worker processes, and surviving a dead worker.

The main process keeps a bounded window of tasks in flight (so shards complete roughly in
plan order and can be finished and uploaded early), fetches the remote files of the next
tasks while the current ones decode, and hands every result to a callback as it arrives.

Workers are forked processes with one decoder thread each (`--workers 1` runs in a thread
of this process: no fork, no pickling). If a worker dies (killed, out of memory, a decoder
crash), the pool is rebuilt and the unfinished tasks go again; a task that keeps killing
workers stops the run with a message naming its videos, and a rerun resumes.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from concurrent.futures.thread import ThreadPoolExecutor
from dataclasses import dataclass, replace

from fgsgl.errors import FgsglError
from fgsgl.storage import Downloads
from fgsgl.video.worker import ClipResult, VideoTask, init_process, run_task

log = logging.getLogger("fgsgl")
MAX_POOL_RESTARTS = 3


@dataclass(frozen=True)
class PendingTask:
    """A task before its files are local: `task.path` and keypoints are still URIs."""

    task: VideoTask

    @property
    def uris(self) -> list[str]:
        return [self.task.path, *self.task.keypoints_files.values()]


def _executor(workers: int) -> Executor:
    if workers == 1:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="fgsgl-extract")
    # fork: workers start in milliseconds and inherit the imported decoder and torch (the
    # resize). The pool is started (below) before this process starts any thread of its own.
    import decord  # noqa: F401
    import torch  # noqa: F401

    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=init_process)
    pool.submit(int).result()  # launches every worker now
    return pool


class TaskRunner:
    """Runs tasks on `workers` processes; `on_results` is called in this thread."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = _executor(workers)  # before any thread: see _executor
        self.restarts = 0

    def run(
        self,
        tasks: Iterable[VideoTask],
        on_results: Callable[[list[ClipResult]], None],
        *,
        before_submit: Callable[[VideoTask], VideoTask] = lambda task: task,
        downloads: Downloads,
    ) -> None:
        queue = deque(PendingTask(t) for t in tasks)
        window = 2 * self.workers
        prefetch = window + 4
        fetched: dict[int, list[Future]] = {}  # id(pending) -> download futures
        inflight: dict[Future, PendingTask] = {}

        def fetch_ahead() -> None:
            for pending in itertools.islice(queue, prefetch):
                if id(pending) not in fetched:
                    fetched[id(pending)] = [downloads.fetch(u) for u in pending.uris]

        def release(pending: PendingTask) -> None:
            fetched.pop(id(pending), None)
            for uri in pending.uris:
                downloads.release(uri)

        try:
            while queue or inflight:
                fetch_ahead()
                while queue and len(inflight) < window:
                    pending = queue[0]
                    futures = fetched[id(pending)]
                    if not all(f.done() for f in futures):
                        break
                    queue.popleft()
                    errors = [f.exception() for f in futures if f.exception() is not None]
                    if errors:  # the video (or its keypoints) could not be downloaded
                        on_results(_failed(pending.task, str(errors[0])))
                        release(pending)
                        continue
                    local = _localised(pending.task, [f.result() for f in futures])
                    try:
                        local = before_submit(local)
                    except Exception:  # e.g. a full disk: keep what the running tasks finish
                        self._drain(inflight, on_results)
                        raise
                    try:
                        inflight[self._pool.submit(run_task, local)] = pending
                    except BrokenProcessPool:  # a worker died since the last wait
                        queue.appendleft(pending)
                        self._restart(inflight, queue)
                waiting = set(inflight)
                if queue and len(inflight) < window:
                    waiting |= {f for f in fetched[id(queue[0])] if not f.done()}
                if not waiting:
                    continue
                done, _ = wait(waiting, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    pending = inflight.get(future)
                    if pending is None:
                        continue  # a download finished
                    try:
                        results = future.result()
                    except BrokenProcessPool:
                        broken = True  # this task stays in `inflight`: it is redone
                        continue
                    del inflight[future]
                    release(pending)
                    on_results(results)
                if broken:
                    self._restart(inflight, queue)
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _drain(self, inflight: dict[Future, PendingTask], on_results: Callable) -> None:
        """Before an error stops the run, the tasks already running finish and their results
        are recorded: a shard they complete is published and a rerun does not redo it."""
        for future in list(inflight):
            try:
                results = future.result()
            except Exception:  # the first error (being raised) is the one to report
                continue
            del inflight[future]
            on_results(results)

    def _restart(self, inflight: dict[Future, PendingTask], queue: deque) -> None:
        """A worker died: every unfinished task goes back to the queue, in plan order."""
        lost = list(inflight.values())
        inflight.clear()
        queue.extendleft(reversed(lost))
        self.restarts += 1
        videos = sorted({p.task.path for p in lost})
        if self.restarts > MAX_POOL_RESTARTS:
            raise FgsglError(
                f"worker processes died {self.restarts} times (killed, out of memory, or a "
                f"decoder crash); the videos in flight were: {', '.join(videos[:8])}. "
                f"Finished shards are kept: rerun the same command to resume"
            )
        log.warning(
            "a worker process died (killed, out of memory, or a decoder crash); restarting "
            "the pool and redoing %d unfinished task(s)",
            len(lost),
        )
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = _executor(self.workers)


def _localised(task: VideoTask, local_paths: list[str]) -> VideoTask:
    path, *keypoints = local_paths
    names = list(task.keypoints_files)
    return replace(task, path=path, keypoints_files=dict(zip(names, keypoints, strict=True)))


def _failed(task: VideoTask, error: str) -> list[ClipResult]:
    return [ClipResult(j.clip_id, j.shard, j.slot, error=error) for j in task.jobs]
