"""The data directory is 0700 and the SQLite database, its WAL and shared memory are 0600 (#12 finding 5)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from app import create_app
from app.store.consultations import ConsultationStore


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_dir_and_database_files_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    old_umask = os.umask(0o022)  # the usual umask: without the fix files are 0644, the directory 0755
    try:
        app = create_app({"TESTING": True, "DATA_DIR": str(data_dir), "BIND_HOST": "127.0.0.1"})
        store = app.extensions["spine_auc.store"]
        assert store.count_consultations() == 0  # opens a connection: WAL and shm exist now
    finally:
        os.umask(old_umask)
    database = data_dir / "spine-auc.db"
    assert _mode(data_dir) == 0o700
    files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    assert all(f.exists() for f in files), os.listdir(data_dir)
    assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}


def test_files_left_world_readable_by_an_older_release_are_narrowed(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o755)
    database = data_dir / "spine-auc.db"
    ConsultationStore.from_url(f"sqlite:///{database}").close()
    for f in data_dir.iterdir():
        f.chmod(0o644)
    data_dir.chmod(0o755)
    create_app({"TESTING": True, "DATA_DIR": str(data_dir), "BIND_HOST": "127.0.0.1"})
    assert _mode(data_dir) == 0o700
    assert {f.name: _mode(f) for f in data_dir.iterdir()} == {f.name: 0o600 for f in data_dir.iterdir()}
