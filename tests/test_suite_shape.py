"""The suite's shape: shared pieces come from tests/support/, never from another test module or
a conftest (pytest finds fixtures by itself); tests reach the product through its public names
only; tests/web/ mirrors web/'s packages.

Each check reads the sources (AST), lists everything it finds, and fails with the whole list.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import ROOT

PRODUCT = ("web", "realtime", "sfu", "plumbing")
# Private names tests may still reach (none: test through public names, or make a unit public).
ALLOWED_PRIVATE: set[str] = set()
SETTERS = {"setattr", "getattr", "delattr", "hasattr"}  # also monkeypatch.setattr/delattr


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def is_test_module(dotted: str) -> bool:
    """A test module or a conftest, by its dotted name under `tests`."""
    last = dotted.rsplit(".", 1)[-1]
    return dotted.split(".")[0] == "tests" and (last.startswith("test_") or last == "conftest")


def is_module(dotted: str, root: Path = ROOT) -> bool:
    path = root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST, module: str) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of the modules a source imports, relative imports resolved; for
    `from package import name`, the submodule when `name` is one."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            names = [f"{base}.{alias.name}" for alias in node.names]
            modules = [name for name in names if is_test_module(name) or is_module(name)]
            for name in modules or [base]:
                yield node.lineno, name


def imported_test_modules(source: str, module: str) -> list[str]:
    """What a source imports from tests/ outside tests/support/ (test modules, conftests,
    helpers kept among tests): `line: name`."""
    found = []
    for line, name in imported_modules(ast.parse(source), module):
        shared = name == "tests.support" or name.startswith("tests.support.")
        if name.startswith("tests.") and name != module and not shared:
            found.append(f"{line}: {name}")
    return found


def _module_of(node: ast.expr, bound: dict[str, str]) -> str | None:
    """The product module an expression names (`services`, `sfu.ice`), else None."""
    if isinstance(node, ast.Name):
        return bound.get(node.id)
    if isinstance(node, ast.Attribute):
        parent = _module_of(node.value, bound)
        if parent is not None and is_module(f"{parent}.{node.attr}"):
            return f"{parent}.{node.attr}"
    return None


def private_reaches(source: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every private product name a source imports or reaches."""
    tree = ast.parse(source)
    found: list[tuple[int, str]] = []
    bound: dict[str, str] = {}  # local name → the product module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] not in PRODUCT:
                    continue
                if any(is_private(part) for part in parts):
                    found.append((node.lineno, alias.name))
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    bound[parts[0]] = parts[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] not in PRODUCT:
                continue
            if any(is_private(part) for part in node.module.split(".")):
                found.append((node.lineno, node.module))
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                if is_private(alias.name):
                    found.append((node.lineno, dotted))
                elif is_module(dotted):
                    bound[alias.asname or alias.name] = dotted
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            owner = _module_of(node.value, bound)
            if owner is not None:
                found.append((node.lineno, f"{owner}.{node.attr}"))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name not in SETTERS:
                continue
            first, rest = node.args[0], node.args[1:]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                parts = first.value.split(".")  # monkeypatch.setattr("sfu.node._LIMIT", 1)
                if parts[0] in PRODUCT and any(is_private(part) for part in parts):
                    found.append((node.lineno, first.value))
                continue
            owner = _module_of(first, bound)
            attr = rest[0] if rest else None
            if owner and isinstance(attr, ast.Constant) and isinstance(attr.value, str):
                if is_private(attr.value):
                    found.append((node.lineno, f"{owner}.{attr.value}"))
    return sorted(set(found))


def web_mirror_problems(web: Path, tests_web: Path, tested: set[str]) -> list[str]:
    """Where tests/web/ does not mirror web/'s packages; `tested` names the packages tests
    import."""
    packages = sorted(p.parent.name for p in web.glob("*/__init__.py"))
    problems = []
    for folder in sorted(p for p in tests_web.iterdir() if p.is_dir()):
        if folder.name.startswith("__"):
            continue
        if folder.name not in packages:
            problems.append(f"{folder.name}/: web/ has no package of that name")
        elif not (folder / "__init__.py").is_file():
            problems.append(f"{folder.name}/: no __init__.py")
    for package in packages:
        for path in sorted(tests_web.glob(f"test_{package}*.py")):
            if path.stem == f"test_{package}" or path.stem.startswith(f"test_{package}_"):
                problems.append(f"{path.name}: tests web/{package}, belongs in {package}/")
        if package in tested and not any((tests_web / package).glob("test_*.py")):
            problems.append(f"{package}/: web/{package} is tested but has no tests/web/{package}/")
    return problems


def _sources(folder: Path) -> Iterator[tuple[str, str, str]]:
    """(shown path, dotted module, source) of every Python file under `folder`."""
    for path in sorted(folder.rglob("*.py")):
        yield str(path.relative_to(ROOT)), module_name(path), path.read_text()


def _report(title: str, findings: list[str]) -> str:
    return f"{title} ({len(findings)}):\n  " + "\n  ".join(findings)


def test_no_test_module_imports_another_test_module_or_a_conftest() -> None:
    findings = [
        f"{shown}:{hit}"
        for shown, module, source in _sources(ROOT / "tests")
        if is_test_module(module)
        for hit in imported_test_modules(source, module)
    ]
    assert not findings, _report(
        "Test modules importing test modules or conftests; move what they share to "
        "tests/support/ (fixtures to a conftest, where pytest finds them)",
        findings,
    )


def test_no_support_module_imports_a_test_module() -> None:
    findings = [
        f"{shown}:{hit}"
        for shown, module, source in _sources(ROOT / "tests" / "support")
        for hit in imported_test_modules(source, module)
    ]
    assert not findings, _report(
        "Support modules importing test modules, conftests or helpers kept among tests", findings
    )


def test_tests_reach_no_private_name_of_the_product() -> None:
    found = [
        (shown, line, name)
        for shown, _, source in _sources(ROOT / "tests")
        for line, name in private_reaches(source)
    ]
    findings = [
        f"{shown}:{line}: {name}" for shown, line, name in found if name not in ALLOWED_PRIVATE
    ]
    assert not findings, _report(
        "Private product names used by tests; test through the public function that uses "
        "them, or make it public if it is a unit with its own contract",
        findings,
    )
    stale = sorted(ALLOWED_PRIVATE - {name for _, _, name in found})
    assert not stale, _report("Allowed private names no test uses any more: remove them", stale)


def test_tests_web_mirrors_the_packages_of_web() -> None:
    tested = {
        name.split(".")[1]
        for _, module, source in _sources(ROOT / "tests")
        if is_test_module(module)
        for _, name in imported_modules(ast.parse(source), module)
        if name.startswith("web.") and is_module(".".join(name.split(".")[:2]))
    }
    problems = web_mirror_problems(ROOT / "web", ROOT / "tests" / "web", tested)
    assert not problems, _report("tests/web/ does not mirror web/", problems)


# --- the checks catch what they are meant to -----------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "from tests.web.test_pages_routes import png",
        "from tests.web.conftest import PASSWORD",
        "from tests.web import conftest",
        "import tests.e2e.test_editor_collab",
        "from .test_rooms import Sink",
        "from tests.web.spaces_http import World",  # a helper kept among the tests
        "def f():\n    from tests.sfu.test_endpoint_live import visio_url",
    ],
)
def test_the_check_finds_imports_of_test_modules(source: str) -> None:
    assert imported_test_modules(source, "tests.realtime.test_versions")


def test_the_check_lets_support_imports_through() -> None:
    source = "from tests.support.forms import post_form\nfrom tests.support import people"
    assert imported_test_modules(source, "tests.web.test_x") == []


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("from web.spaces.services import _helper", "web.spaces.services._helper"),
        ("from web.spaces import services\nservices._cache", "web.spaces.services._cache"),
        ("import realtime.store\nrealtime.store._lock", "realtime.store._lock"),
        ("import sfu.receiving as receiving\nreceiving._parse(b'')", "sfu.receiving._parse"),
        ("import sfu.ice\nmonkeypatch.setattr(sfu.ice, '_bind', f)", "sfu.ice._bind"),
        ("monkeypatch.setattr('sfu.node._TIMEOUT', 1)", "sfu.node._TIMEOUT"),
        ("from sfu import _native", "sfu._native"),
    ],
)
def test_the_check_finds_private_product_names(source: str, name: str) -> None:
    assert [found for _, found in private_reaches(source)] == [name]


def test_the_check_allows_public_and_dunder_names_and_other_libraries() -> None:
    source = (
        "from web.spaces import services\nfrom aiortc import RTCRtpSender\n"
        "services.__name__\nservices.create_space\nRTCRtpSender._send_rtp\n"
        "from web.spaces.services import create_space\ncreate_space._x\n"
    )
    assert private_reaches(source) == []


def test_the_check_finds_tests_web_out_of_step_with_web(tmp_path: Path) -> None:
    web, tests_web = tmp_path / "web", tmp_path / "tests" / "web"
    for folder in (web / "alpha", web / "beta", tests_web / "gamma", tests_web / "beta"):
        folder.mkdir(parents=True)
    (web / "alpha" / "__init__.py").touch()
    (web / "beta" / "__init__.py").touch()
    (tests_web / "test_alpha_things.py").touch()
    (tests_web / "test_alphabet.py").touch()  # not about web/alpha
    assert web_mirror_problems(web, tests_web, {"alpha"}) == [
        "beta/: no __init__.py",
        "gamma/: web/ has no package of that name",
        "test_alpha_things.py: tests web/alpha, belongs in alpha/",
        "alpha/: web/alpha is tested but has no tests/web/alpha/",
    ]
