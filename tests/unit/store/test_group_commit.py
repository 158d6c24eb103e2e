"""Group commit: concurrent writes share a transaction, each caller gets its own outcome after the commit,
one caller's failure stays its own; and the cheaper paths store exactly what the SQLAlchemy ones did."""

from __future__ import annotations

import json
import threading
import time
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from app.store.consultations import ConsultationStore, StoreError
from app.store.group_commit import GroupCommit
from app.store.questions import QuestionStore
from app.store.result_blob import (
    ZDICT_VERSION,
    _zdict,
    canonical_json,
    compress_result,
    read_result,
    result_json,
)
from tests.results import rated


def _in_threads(count: int, work: Any) -> list[Any]:
    barrier = threading.Barrier(count)
    out: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return out


def test_concurrent_callers_share_commits_and_get_their_own_outcomes() -> None:
    batches: list[list[int]] = []

    def commit(ops: Sequence[Any]) -> list[Any]:
        time.sleep(0.02)  # a slow fsync: callers queue up behind it
        batches.append(list(ops))
        return [op * 10 if op % 5 else ValueError(op) for op in ops]

    group = GroupCommit(commit)
    outcomes = _in_threads(20, group.submit)
    for i, outcome in enumerate(outcomes):
        if i % 5:
            assert outcome == i * 10
        else:
            assert isinstance(outcome, ValueError) and outcome.args == (i,)
    assert sorted(op for batch in batches for op in batch) == list(range(20))  # each committed once
    assert len(batches) < 20  # some shared a commit


def test_a_failing_commit_fails_every_caller_of_its_batch_and_the_next_batch_runs() -> None:
    calls = 0

    def commit(ops: Sequence[Any]) -> list[Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk gone")
        return list(ops)

    group = GroupCommit(commit)
    with pytest.raises(OSError, match="disk gone"):
        group.submit(1)
    assert group.submit(2) == 2


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ConsultationStore]:
    opened = ConsultationStore.from_url(f"sqlite:///{tmp_path / 'data' / 'spine-auc.db'}")
    yield opened
    opened.close()


def _record(store: ConsultationStore, results: list[Any]) -> None:
    store.record_consultations(
        results,
        hook_instance="h",
        request_id=None,
        caller_iss=None,
        tenant=None,
        patient="Patient/p1",
        latency_ms=1.0,
    )


def test_one_callers_failure_in_a_shared_batch_leaves_the_others_recorded(store: ConsultationStore) -> None:
    taken = rated(1)
    _record(store, [taken])
    batches = [[replace(taken, consultation_id=f"urn:uuid:{uuid.uuid4()}")] for _ in range(11)]
    batches.append([taken])  # a duplicate consultationId: its own transaction fails, nobody else's
    outcomes = _in_threads(len(batches), lambda i: _record(store, batches[i]))
    assert outcomes[:-1] == [None] * 11
    assert isinstance(outcomes[-1], StoreError)
    assert store.count_consultations() == 12
    for results in batches:
        assert store.get_consultation(results[0].consultation_id) is not None


def test_rows_written_on_the_plain_connection_read_back_as_before(store: ConsultationStore) -> None:
    result = rated(1)
    _record(store, [result])
    found = store.get_consultation(result.consultation_id)
    assert found is not None and found["result"] == read_result(
        type("Row", (), {"result_z": compress_result(result.to_json())})()
    )
    recorded = datetime.fromisoformat(found["audit"]["recordedAt"])
    assert abs(recorded - datetime.now(UTC)) < timedelta(minutes=1)
    with store.engine.connect() as conn:
        stored = conn.execute(text("SELECT created_at, latency_ms FROM consultations")).one()
    assert isinstance(stored.created_at, str) and "+" not in stored.created_at  # SQLAlchemy's own format
    assert stored.latency_ms == 1.0


def test_the_primed_compressor_writes_what_a_new_one_would() -> None:
    result = rated(1).to_json()
    fresh = zlib.compressobj(6, zdict=_zdict(ZDICT_VERSION))
    expected = bytes([ZDICT_VERSION]) + fresh.compress(result_json(result)) + fresh.flush()
    assert compress_result(result) == expected == compress_result(result)


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": ["é ☃", None, 2.5, True]},
        {"lone": "\ud800"},  # orjson refuses it: the standard encoder writes it, as before
        {1: "int key"},
        {"big": 2**70},
        {"when": datetime(2026, 12, 1, tzinfo=UTC)},  # str(), as json.dumps(default=str) does
    ],
)
def test_the_result_json_is_the_same_json_value(value: Any) -> None:
    assert json.loads(result_json(value)) == json.loads(canonical_json(value))


def test_claims_on_the_plain_connection_purge_expired_entries(store: ConsultationStore) -> None:
    now = int(time.time())
    assert store.claim_jti("https://a", "old", now - 7200)
    store._next_jti_purge = 0.0  # due now
    assert store.claim_jti("https://a", "new", now + 300)
    with store.engine.connect() as conn:
        left = conn.execute(text("SELECT jti FROM jti_seen")).scalars().all()
    assert left == ["new"]


def test_answers_in_force_are_the_same_through_sqlalchemy(tmp_path: Path) -> None:
    consultations = ConsultationStore.from_url(f"sqlite:///{tmp_path / 'q.db'}")
    fast = QuestionStore(consultations.engine)
    plain = QuestionStore(consultations.engine)
    plain._raw = None
    response = {"resourceType": "QuestionnaireResponse", "status": "completed"}
    fast.open_question(
        "q1",
        consultation_id="urn:uuid:1",
        patient="pt",
        order_ref="ServiceRequest/1",
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
        context={},
    )
    assert fast.answer("q1", response=response, consultation_id="urn:uuid:2")
    for window, order in ((5, "ServiceRequest/1"), (5, "ServiceRequest/2"), (0, "ServiceRequest/1")):
        args = ("pt", order)
        expected = plain.answers_in_force(*args, window=timedelta(minutes=window))
        assert fast.answers_in_force(*args, window=timedelta(minutes=window)) == expected
    assert fast.answers_in_force("pt", "ServiceRequest/1", window=timedelta(minutes=5)) == response
    consultations.close()


def test_an_in_memory_store_uses_sqlalchemy() -> None:
    store = ConsultationStore(create_engine("sqlite://"))
    assert store._raw is None
    _record(store, [rated(1)])
    assert store.count_consultations() == 1
    assert store.claim_jti("https://a", "j", int(time.time()) + 60)
    assert not store.claim_jti("https://a", "j", int(time.time()) + 60)
    store.close()



class _LockedCursor:
    """A DB-API cursor stand-in whose first ``locked`` executes fail as SQLite's immediate SQLITE_BUSY does."""

    def __init__(self, locked: int, message: str = "database is locked"):
        self.locked, self.message, self.calls = locked, message, 0

    def execute(self, sql: str) -> None:
        self.calls += 1
        if self.calls <= self.locked:
            import sqlite3

            raise sqlite3.OperationalError(self.message)


def test_the_wal_switch_retries_an_immediate_database_is_locked() -> None:
    from app.store.sqlite_files import _switch_to_wal

    cursor = _LockedCursor(locked=3)
    _switch_to_wal(cursor, wait_seconds=5)
    assert cursor.calls == 4


def test_the_wal_switch_gives_up_after_its_wait_and_never_retries_other_errors() -> None:
    import sqlite3

    from app.store.sqlite_files import _switch_to_wal

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _switch_to_wal(_LockedCursor(locked=10**6), wait_seconds=0.1)
    other = _LockedCursor(locked=1, message="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _switch_to_wal(other, wait_seconds=5)
    assert other.calls == 1
