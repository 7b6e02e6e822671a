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
