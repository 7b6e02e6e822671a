"""The Python lock: `requirements.txt` and `requirements-dev.txt`, every package pinned with
its hashes, and `make` installs exactly those (`pip install --require-hashes --no-deps`).

`pyproject.toml` keeps the ranges that say what Atelier is compatible with; the lock says what
was tested. Commands (each has a `make` target):

    python tools/lock.py check     the locks still satisfy pyproject.toml (offline; make test)
    python tools/lock.py compile   resolve what pyproject.toml changed, other pins kept (make lock)
    python tools/lock.py upgrade   resolve everything to the newest allowed (make upgrade)
    python tools/lock.py audit     pip-audit on the lock (make audit)

Resolution is uv's (`uv pip compile --universal --generate-hashes`): one lock for every platform
and every Python from `requires-python` up, with the hashes of every file of each release.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
RUN_LOCK = ROOT / "requirements.txt"
DEV_LOCK = ROOT / "requirements-dev.txt"
# The venv's own installer is pinned too (the stdlib's venv brings an old pip and setuptools).
INSTALLER = ("pip>=25.3",)
FIX = "Run `make lock` (it keeps every other pin) and commit requirements*.txt."


class LockError(Exception):
    """The lock does not match pyproject.toml, or a tool it needs failed."""


@dataclass(frozen=True)
class Pin:
    """One `name==version ; marker` line of a lock."""

    name: str
    version: Version
    marker: Marker | None

    def applies(self, environment: dict[str, str] | None = None) -> bool:
        return self.marker is None or self.marker.evaluate(environment)


def read_lock(path: Path) -> list[Pin]:
    """The pins of a lock file (its continuation lines and comments skipped)."""
    if not path.exists():
        raise LockError(f"{path.relative_to(ROOT)} is missing. {FIX}")
    pins = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip(" \\")
        if not line.strip() or line.startswith((" ", "-")):
            continue
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        if specifier.operator != "==":
            raise LockError(f"{path.name}: {line!r} is not pinned with ==")
        pins.append(
            Pin(canonicalize_name(requirement.name), Version(specifier.version), requirement.marker)
        )
    return pins


@dataclass(frozen=True)
class Wanted:
    """What pyproject.toml asks of each lock."""

    run: list[Requirement]
    dev: list[Requirement]


def wanted() -> Wanted:
    project = tomllib.loads(PYPROJECT.read_text())
    base = [Requirement(r) for r in project["project"]["dependencies"]]
    building = [Requirement(r) for r in (*project["build-system"]["requires"], *INSTALLER)]
    extras = project["project"].get("optional-dependencies", {})
    dev = [Requirement(r) for group in extras.values() for r in group]
    return Wanted(run=base + building, dev=base + building + dev)


def _pinned(pins: list[Pin], name: str) -> Pin | None:
    for pin in pins:
        if pin.name == name and pin.applies():
            return pin
    return None


def _closure(requirements: Iterable[Requirement]) -> Iterator[tuple[Requirement, str]]:
    """Every requirement reachable from these through the installed packages' metadata (the
    ones an extra such as `uvicorn[standard]` brings in too), with who asked for it."""
    queue = [(r, "pyproject.toml") for r in requirements]
    seen: set[tuple[str, frozenset[str]]] = set()
    while queue:
        requirement, asker = queue.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        yield requirement, asker
        try:
            needs = importlib.metadata.requires(requirement.name) or []
        except importlib.metadata.PackageNotFoundError:
            continue  # reported by the pin check if it matters
        for text in needs:
            need = Requirement(text)
            extras = requirement.extras or {""}
            if need.marker is None or any(need.marker.evaluate({"extra": e}) for e in extras):
                queue.append((Requirement(str(need).split(";")[0]), requirement.name))


def problems() -> list[str]:
    """What is wrong between pyproject.toml, the locks and this venv (empty when all is well)."""
    want = wanted()
    found: list[str] = []
    locks = {RUN_LOCK: (read_lock(RUN_LOCK), want.run), DEV_LOCK: (read_lock(DEV_LOCK), want.dev)}
    for path, (pins, requirements) in locks.items():
        name = path.relative_to(ROOT)
        for requirement, asker in _closure(requirements):
            if requirement.marker is not None and not requirement.marker.evaluate():
                continue
            pin = _pinned(pins, canonicalize_name(requirement.name))
            if pin is None:
                found.append(f"{name}: {requirement} (asked by {asker}) is not in the lock")
            elif not requirement.specifier.contains(pin.version, prereleases=True):
                found.append(
                    f"{name}: {requirement} (asked by {asker}), but the lock has {pin.version}"
                )
    dev = {(p.name, p.marker and str(p.marker)): p.version for p in locks[DEV_LOCK][0]}
    for pin in locks[RUN_LOCK][0]:
        other = dev.get((pin.name, pin.marker and str(pin.marker)))
        if other != pin.version:
            found.append(
                f"requirements.txt has {pin.name} {pin.version}, requirements-dev.txt "
                f"{other or 'nothing'}: the two locks must agree"
            )
    return found


def check() -> None:
    found = problems()
    if found:
        raise LockError(
            "The Python lock no longer satisfies pyproject.toml:\n  "
            + "\n  ".join(found)
            + f"\n{FIX}"
        )
    print(f"lock: {len(read_lock(DEV_LOCK))} pinned packages satisfy pyproject.toml")


def _uv() -> str:
    uv = Path(sys.executable).parent / "uv"
    if not uv.exists():
        raise LockError("uv is not in the venv: run `make setup-dev` first")
    return str(uv)


def _compile(upgrade: bool) -> None:
    """Re-resolve both locks (dev first; run takes the dev lock's versions)."""
    project = tomllib.loads(PYPROJECT.read_text())
    building = [*project["build-system"]["requires"], *INSTALLER]
    extras = [f"--extra={name}" for name in project["project"].get("optional-dependencies", {})]
    common = [_uv(), "pip", "compile", "--quiet", "--universal", "--fork-strategy", "fewest"]
    common += ["--generate-hashes", "--custom-compile-command", "make lock"]
    if upgrade:
        common.append("--upgrade")
    env = {**os.environ, "UV_NO_CONFIG": "1"}
    with tempfile.TemporaryDirectory() as scratch:
        build_in = Path(scratch) / "build-system.in"
        build_in.write_text("\n".join(building) + "\n")
        _run([*common, *extras, "pyproject.toml", str(build_in), "-o", str(DEV_LOCK)], env)
        pins = Path(scratch) / "dev-pins.txt"
        pins.write_text(
            "".join(f"{p.name}=={p.version}\n" for p in read_lock(DEV_LOCK) if p.applies())
        )
        _run([*common, "pyproject.toml", str(build_in), "-c", str(pins), "-o", str(RUN_LOCK)], env)
        for path in (RUN_LOCK, DEV_LOCK):  # the scratch folder's name means nothing to a reader
            text = path.read_text().replace(str(pins), "requirements-dev.txt")
            path.write_text(text.replace(str(build_in), "pyproject.toml [build-system]"))


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise LockError(f"{' '.join(command[:3])} failed:\n{result.stderr.strip()}")


def moved(before: list[Pin], after: list[Pin]) -> list[str]:
    """What changed between two versions of a lock, one line a package."""
    old = {p.name: p.version for p in before if p.applies()}
    new = {p.name: p.version for p in after if p.applies()}
    lines = []
    for name in sorted(old.keys() | new.keys()):
        if name not in new:
            lines.append(f"  - {name} {old[name]} (no longer needed)")
        elif name not in old:
            lines.append(f"  + {name} {new[name]} (new)")
        elif old[name] != new[name]:
            lines.append(f"  ~ {name} {old[name]} -> {new[name]}")
    return lines


def resolve(upgrade: bool) -> None:
    before = read_lock(DEV_LOCK) if DEV_LOCK.exists() else []
    _compile(upgrade)
    lines = moved(before, read_lock(DEV_LOCK))
    print("lock: what moved\n" + "\n".join(lines) if lines else "lock: nothing moved")
    check()


def audit() -> int:
    """pip-audit on the dev lock (it holds the run lock). 0 clean, 1 vulnerable, 2 not audited."""
    tool = Path(sys.executable).parent / "pip-audit"
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "audit.json"
        result = subprocess.run(
            [
                str(tool),
                "--requirement",
                str(DEV_LOCK),
                "--require-hashes",
                "--disable-pip",
                "--progress-spinner=off",
                "--format=json",
                "--output",
                str(report),
            ],
            capture_output=True,
            text=True,
        )
        data = json.loads(report.read_text()) if report.exists() else None
    if data is None:
        reason = (result.stderr.strip().splitlines() or ["no report"])[-1]
        print(f"NOT AUDITED: pip-audit could not check the lock ({reason})")
        return 2
    dependencies = data.get("dependencies", [])
    skipped = [d for d in dependencies if d.get("skip_reason")]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed release yet"
            print(f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in: {fixed})")
    if skipped:
        reasons: dict[str, list[str]] = {}
        for dep in skipped:  # "Dependency not found on PyPI ...: name (version)" -> its cause
            reason = dep["skip_reason"].split(":")[0]
            reasons.setdefault(reason, []).append(dep["name"])
        for reason, names in reasons.items():
            print(f"not audited ({reason}): {', '.join(names)}")
        print(f"NOT AUDITED: {len(skipped)} of {len(dependencies)} packages were not checked")
        return 2
    if vulnerable:
        return 1
    print(f"audit: no known vulnerabilities in the {len(dependencies)} locked packages")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["check", "compile", "upgrade", "audit"])
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            check()
        elif args.command == "compile":
            resolve(upgrade=False)
        elif args.command == "upgrade":
            resolve(upgrade=True)
        else:
            return audit()
    except LockError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
