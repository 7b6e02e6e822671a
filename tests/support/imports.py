"""Reading a module's imports from its source, for the checks that sans-I/O cores stay pure."""

from __future__ import annotations

import ast


def imported_top_level_names(source: str) -> set[str]:
    """The packages a source imports (plumbing modules by full name; `__import__` as such)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # The shared plumbing holds I/O (the bus) beside pure parts: named in full.
            top = node.module.split(".")[0]
            names.add(node.module if top == "plumbing" else top)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            names.add("__import__")  # dynamic imports would dodge this check
    return names


# The sans-I/O cores of each engine (docs/visio.md, ARCHITECTURE.md): modules that import
# nothing but the standard library, pure libraries and other cores of their engine.
CORES = {
    "realtime": ("protocol", "awareness", "room", "errors"),
    "sfu": (
        *("signaling", "room", "forwarding", "feedback", "errors", "candidates"),
        *("rtp", "config", "turn"),
    ),
}


def imported_modules(source: str, module: str) -> set[str]:
    """The dotted modules a source imports anywhere in it (in functions, under TYPE_CHECKING),
    relative imports resolved against `module`; `from package import name` gives
    `package.name`, which the caller may read as the submodule or the package."""
    package = module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = parts[: len(parts) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found
