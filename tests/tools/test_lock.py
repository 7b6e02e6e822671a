"""The Python lock (tools/lock.py): `make test` goes red when pyproject.toml and the lock part."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of what tools/lock.py reads: pyproject.toml, the locks and the script."""
    for name in ("pyproject.toml", "requirements.txt", "requirements-dev.txt", "tools/lock.py"):
        source, target = ROOT / name, tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)
    return tmp_path


def lock(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, str(project / "tools" / "lock.py"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )
    return result.returncode, result.stdout + result.stderr


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_the_committed_lock_satisfies_pyproject(project: Path) -> None:
    code, output = lock(project, "check")
    assert code == 0, output
    assert re.search(r"\d+ pinned packages satisfy pyproject.toml", output)


def test_a_range_the_lock_no_longer_meets_fails_with_the_command_to_run(project: Path) -> None:
    edit(project / "pyproject.toml", '"redis>=5"', '"redis>=999"')
    code, output = lock(project, "check")
    assert code == 1
    assert "redis>=999 (asked by pyproject.toml), but the lock has" in output
    assert "make lock" in output


def test_a_new_dependency_missing_from_the_lock_fails(project: Path) -> None:
    edit(project / "pyproject.toml", '"nh3>=0.2",', '"nh3>=0.2",\n  "not-a-real-package>=1",')
    code, output = lock(project, "check")
    assert code == 1
    assert "not-a-real-package>=1 (asked by pyproject.toml) is not in the lock" in output


def test_the_run_and_dev_locks_must_pin_the_same_versions(project: Path) -> None:
    run = project / "requirements.txt"
    pinned = re.search(r"^starlette==([0-9.]+)", run.read_text(), re.M)
    assert pinned is not None
    edit(run, f"starlette=={pinned[1]}", "starlette==1.0.0")
    code, output = lock(project, "check")
    assert code == 1
    assert "requirements.txt has starlette 1.0.0" in output


def test_every_locked_package_carries_hashes() -> None:
    for name in ("requirements.txt", "requirements-dev.txt"):
        blocks = re.split(r"\n(?=[a-z0-9])", (ROOT / name).read_text())
        pins = [b for b in blocks if re.match(r"[a-z0-9][a-z0-9._-]*==", b)]
        assert pins, name
        assert all("--hash=sha256:" in b for b in pins), name


def test_an_audit_that_cannot_reach_its_service_says_not_audited(project: Path) -> None:
    # A proxy that refuses every connection stands for a machine without the advisory service.
    closed = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    closed |= {"NO_PROXY": "", "no_proxy": ""}
    code, output = lock(project, "audit", env=closed)
    assert code == 2, output
    assert "NOT AUDITED" in output
    assert "no known vulnerabilities" not in output
