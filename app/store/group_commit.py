"""Group commit: concurrent writers of one process share a transaction and its fsync.

Leader/follower, no extra thread: a caller queues its operation; if no commit is in flight it becomes the
leader, takes every queued operation, commits them in one transaction and hands each caller its own
outcome; callers that queued meanwhile wait and the next of them leads the following batch. Every caller
returns only after the commit that holds its operation (durability unchanged); alone (a sync worker) a
caller leads a batch of one, as a plain transaction would.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

# Commits the operations in one transaction: one outcome per operation (its value, or the exception it
# failed with). It may raise: then every operation of the batch failed with that exception.
Commit = Callable[[Sequence[Any]], list[Any]]


class _Waiter:
    __slots__ = ("op", "done", "outcome")

    def __init__(self, op: Any):
        self.op = op
        self.done = False
        self.outcome: Any = None


class GroupCommit:
    """``submit(op)`` returns ``op``'s outcome once committed, or raises the exception it failed with."""

    def __init__(self, commit: Commit):
        self._commit = commit
        self._fresh()

    def _fresh(self) -> None:
        # A lock must not cross a fork (a child's copy may be held by a thread that does not exist there).
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[_Waiter] = []
        self._leading = False

    def submit(self, op: Any) -> Any:
        if self._pid != os.getpid():
            self._fresh()
        me = _Waiter(op)
        with self._cond:
            self._queue.append(me)
            while self._leading and not me.done:
                self._cond.wait()
            if not me.done:
                self._leading = True
                batch, self._queue = self._queue, []
        if not me.done:
            self._lead(batch)
        if isinstance(me.outcome, BaseException):
            raise me.outcome
        return me.outcome

    def _lead(self, batch: list[_Waiter]) -> None:
        outcomes: list[Any] | None = None
        try:
            outcomes = self._commit([w.op for w in batch])
        except Exception as exc:  # every caller of the batch gets it
            outcomes = [exc] * len(batch)
        finally:
            # Also on BaseException (a worker being stopped): never leave followers waiting for a leader.
            with self._cond:
                for i, waiter in enumerate(batch):
                    waiter.outcome = (
                        RuntimeError("group commit interrupted") if outcomes is None else outcomes[i]
                    )
                    waiter.done = True
                self._leading = False
                self._cond.notify_all()
