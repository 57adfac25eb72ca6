"""preprocess/ has no import circle (issue 18): each module is imported alone, in a fresh Python,
and the preprocess modules it imports (at any depth, also inside functions: an import deferred
into a function still ties the two modules together) are walked from their source; a module
reachable from itself fails the test, naming the circle. The fresh import also shows that each
module loads on its own (no fairseq, no order of imports that hides a circle)."""
import ast
import subprocess
import sys

import pytest

from .helpers import REPO

PACKAGE = REPO / "preprocess"
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def imported_modules(name):
    """The preprocess modules that preprocess/NAME.py imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse((PACKAGE / f"{name}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "preprocess":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("preprocess."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("preprocess."))
    return sorted(found & set(MODULES))


def find_circle(graph, start):
    """A path ``[start, ..., start]`` along ``graph``'s edges, or None."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in graph[node]:
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def test_the_walk_finds_a_circle():
    assert find_circle({"a": ["b"], "b": ["c"], "c": ["a"]}, "a") == ["a", "b", "c", "a"]
    assert find_circle({"a": ["b"], "b": [], "c": ["a"]}, "a") is None


@pytest.mark.parametrize("name", MODULES)
def test_module_imports_alone_and_is_in_no_circle(name):
    proc = subprocess.run([sys.executable, "-c", f"import preprocess.{name}"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    graph = {m: imported_modules(m) for m in MODULES}
    circle = find_circle(graph, name)
    assert circle is None, f"import circle: {' -> '.join(circle)}"
