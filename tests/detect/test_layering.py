"""How the detect package is put together (issue 19): dependencies go one way.

- no module imports a private name (`_x`) of another module: what is shared is public;
- the run-time modules of `detect` import no module that imports them back (no cycle);
- `provenance detect` never loads the training code, and `detect` reaches
  nothing of the chain, IPFS or the ledger.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("detect", "provenance", "cli")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(module imported from, names taken, line) of every `from X import ...` in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            out.append((source, [alias.name for alias in node.names], node.lineno))
    return out


def _is_module(source: str, name: str, modules: dict[str, Path]) -> bool:
    """`from source import name` takes a (private) module, Python or compiled, not a private name of one."""
    folder = ROOT.joinpath(*source.split("."))
    return f"{source}.{name}" in modules or any(folder.glob(f"{name}.*.so")) or (folder / f"{name}.c").exists()


def test_no_module_imports_a_private_name_of_another():
    modules = _modules()
    offenders = []
    for name, path in modules.items():
        for source, names, line in _imports(name, path):
            if source.split(".")[0] not in PACKAGES:
                continue  # third-party internals are their business
            for imported in names:
                if imported.startswith("_") and not imported.startswith("__") and not _is_module(source, imported, modules):
                    offenders.append(f"{path.relative_to(ROOT)}:{line} imports {imported} from {source}")
    assert offenders == []


def _detect_graph() -> dict[str, set[str]]:
    modules = {n: p for n, p in _modules().items() if n.startswith("detect") and not n.startswith("detect.train")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for source, names, _ in _imports(name, path):
            for candidate in [f"{source}.{n}" for n in names] + [source]:
                if candidate in modules and candidate != name:
                    edges.add(candidate)
                    break
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in modules and a.name != name}
        graph[name] = edges
    return graph


def test_detect_modules_depend_one_way():
    graph = _detect_graph()
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        if node in trail:
            cycles.append(" -> ".join(trail[trail.index(node) :] + [node]))
            return
        for nxt in sorted(graph.get(node, ())):
            if not nxt.startswith(node + "."):  # a package importing its own submodule is not a cycle
                visit(nxt, trail + [node])

    for start in sorted(graph):
        visit(start, [])
    assert sorted(set(cycles)) == []
    assert "detect.analyze" not in graph["detect.batch"] | graph["detect.video_analysis"] | graph["detect.stills"]


def test_detect_reaches_no_chain_ipfs_or_ledger():
    forbidden = ("provenance.chain", "provenance.ledger", "provenance.ipfs", "provenance.certify", "provenance.verify")
    for name, path in _modules().items():
        if not name.startswith("detect"):
            continue
        for source, _names, line in _imports(name, path):
            assert not source.startswith(forbidden), f"{path.relative_to(ROOT)}:{line} imports {source}"


@pytest.mark.slow
def test_provenance_detect_loads_no_training_code(tmp_path):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (160, 120), (120, 80, 40)).save(photo)
    script = (
        "import json, sys, atexit\n"
        "atexit.register(lambda: print('MODULES ' + json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
        "from cli.main import main\n"
        f"sys.argv = ['provenance', 'detect', '--json', {str(photo)!r}]\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) and "Traceback" not in proc.stderr
    line = next(row for row in proc.stderr.splitlines() if row.startswith("MODULES "))
    loaded = json.loads(line.removeprefix("MODULES "))
    assert "detect.analyze" in loaded  # the detectors did run
    assert [m for m in loaded if m == "detect.train" or m.startswith("detect.train.")] == []
