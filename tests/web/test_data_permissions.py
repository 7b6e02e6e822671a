"""The data folder (database, secret key, uploads) is readable by the server's user only."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

from tests.support.servers import AtelierServer


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _assert_private(data: Path) -> None:
    assert _mode(data) == 0o700
    assert _mode(data / "files") == 0o700
    for name in ("atelier.db", "atelier.db-wal", "atelier.db-shm", "secret_key"):
        assert _mode(data / name) == 0o600, name


def test_a_new_data_folder_and_its_files_are_private(
    tmp_path: Path, atelier: Callable[..., AtelierServer]
) -> None:
    data = tmp_path / "logs" / "data"  # the server creates it (the test harness logs beside)
    server = atelier(tmp_path / "logs", ATELIER_DATA_DIR=str(data))
    _assert_private(data)  # -wal and -shm exist while the server runs (WAL mode)
    assert "tightened" not in server.log()  # private from the start, not corrected after


def test_an_older_data_folder_left_readable_is_tightened_at_start_and_logged(
    tmp_path: Path, atelier: Callable[..., AtelierServer]
) -> None:
    data = tmp_path / "older"
    first = atelier(data)
    first.stop()
    data.chmod(0o755)
    (data / "files").chmod(0o755)
    for name in ("atelier.db", "secret_key"):
        (data / name).chmod(0o644)
    key = (data / "secret_key").read_text()

    second = atelier(data)
    _assert_private(data)
    assert "tightened the permissions of" in second.log()
    assert (data / "secret_key").read_text() == key  # same key: sessions survive
