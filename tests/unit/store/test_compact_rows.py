"""Consultations are stored compactly (schema version 3, zlib) and rows written before it still read (#12)."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, insert, text

from app import create_app
from app.store import tables as s
from app.store.consultations import ConsultationStore
from bench.patients import hook_request

SELECT = "/cds-services/spine-auc-order-select"


def test_the_50_resource_benchmark_patient_costs_at_most_3_kb_per_consultation(tmp_path: Path) -> None:
    # Before: result JSON + reasons JSON as text, ~6.5 KB a row on disk here (11 KB in the soak).
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "BIND_HOST": "127.0.0.1"})
    client = app.test_client()
    request = hook_request("order-select", 50)
    rows = 200
    for i in range(rows):
        request["hookInstance"] = f"00000000-0000-4000-8000-{i:012d}"
        assert client.post(SELECT, json=request).status_code == 200
    app.extensions["spine_auc.store"].close()
    database = tmp_path / "spine-auc.db"
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert conn.execute("SELECT count(*) FROM consultations").fetchone()[0] == rows
    per_row = os.path.getsize(database) / rows
    assert per_row <= 3 * 1024, f"{per_row:.0f} bytes per consultation"


def test_a_stored_result_reads_back_whole(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "BIND_HOST": "127.0.0.1"})
    response = app.test_client().post(SELECT, json=hook_request("order-select", 50))
    store = app.extensions["spine_auc.store"]
    (row,) = store.list_consultations()[0]
    assert row["result"]["reasons"] == row["audit"]["reasons"]
    assert row["result"]["status"] == row["audit"]["status"]
    assert row["result"]["consultationId"] == row["consultationId"]
    card_ids = [c["uuid"] for c in response.get_json()["cards"]]
    assert row["result"].get("cdsCard", {}).get("uuid") in card_ids


def test_rows_written_by_schema_version_1_still_read_after_the_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v1.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        s._v1_initial(conn)
        s.metadata.create_all(conn, tables=[s.schema_version])
        conn.execute(
            s.schema_version.insert().values(version=1, description="v1", applied_at=datetime.now(UTC))
        )
        v1_result = {"consultationId": "urn:uuid:v1", "status": "rated", "reasons": [{"fact": "x"}]}
        columns = {c["name"] for c in conn.execute(text("PRAGMA table_info(consultations)")).mappings()}
        assert "result_z" not in columns
        conn.execute(
            text(
                "INSERT INTO consultations (consultation_id, status, reasons, created_at, result) "
                "VALUES (:id, 'rated', :reasons, :at, :result)"
            ),
            {
                "id": "urn:uuid:v1",
                "reasons": json.dumps(v1_result["reasons"]),
                "at": datetime.now(UTC),
                "result": json.dumps(v1_result),
            },
        )
    engine.dispose()
    store = ConsultationStore.from_url(url)
    assert store.schema_version == s.CURRENT_VERSION == 3
    row = store.get_consultation("urn:uuid:v1")
    assert row is not None
    assert row["result"] == v1_result
    assert row["audit"]["reasons"] == [{"fact": "x"}]
    store.close()


def test_a_fresh_store_and_an_upgraded_one_have_the_same_columns(tmp_path: Path) -> None:
    fresh = ConsultationStore.from_url(f"sqlite:///{tmp_path / 'fresh.db'}")
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        s._v1_initial(conn)
        s.metadata.create_all(conn, tables=[s.schema_version])
        conn.execute(
            insert(s.schema_version).values(version=1, description="v1", applied_at=datetime.now(UTC))
        )
    engine.dispose()
    upgraded = ConsultationStore.from_url(f"sqlite:///{tmp_path / 'old.db'}")

    def columns(store: ConsultationStore) -> list[tuple[str, str]]:
        with store.engine.connect() as conn:
            return [
                (r["name"], r["type"])
                for r in conn.execute(text("PRAGMA table_info(consultations)")).mappings()
            ]

    assert columns(fresh) == columns(upgraded)
    assert ("result_z", "BLOB") in columns(fresh)
