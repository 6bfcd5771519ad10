"""Project layout rules (docs/design.md, "Layout"): one package per stage, imports flow one way along the
pipeline and only through package faces, no import cycles, short functions, and `--help` without torch."""

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

import hf_shrunk

PACKAGE = Path(hf_shrunk.__file__).parent

# Pipeline order, one entry per top-level module or package of hf_shrunk: a unit may import only units of its own
# step or of steps to its left. Packages are imported through their face (`__init__.py`) only.
PIPELINE = [
    {"config", "numbers", "artifacts", "locks", "lanes"},
    {"vocab"},
    {"sources"},
    {"corpus"},
    {"tokenizer"},
    {"models"},
    {"hub"},
    {"pretrain"},
    {"glue"},
    {"scaling"},
    {"cards"},
    {"publish"},
    {"demo"},
    {"cli", "env", "__main__", "__init__"},
]
RANK = {unit: i for i, step in enumerate(PIPELINE) for unit in step}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _dotted(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _is_package(dotted: str) -> bool:
    return (PACKAGE.parent / dotted.replace(".", "/") / "__init__.py").is_file()


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """Every hf_shrunk import in a file, module and function level: (module, imported names, line)."""
    me = _dotted(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: only the self-contained modeling files use it
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{module}" if module else base
            if module == "hf_shrunk" or module.startswith("hf_shrunk."):
                out.append((module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("hf_shrunk")]
    return out


def _lazy_targets(path: Path) -> list[str]:
    """Modules a face imports on first use: the values of its ``_LAZY`` / ``_API`` table."""
    targets = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") in ("_LAZY", "_API") for t in node.targets):
            targets += [
                c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant) and str(c.value).startswith("hf_")
            ]
    return targets


def _edges() -> dict[str, set[str]]:
    """The import graph between hf_shrunk's modules (a package is its `__init__`)."""
    graph = defaultdict(set)
    for path in _modules():
        me = _dotted(path)
        for module, names, _ in _imports(path):
            for name in names or [None]:
                # `from hf_shrunk.pkg import sub` imports the submodule `sub` when there is one
                sub = f"{module}.{name}" if name else None
                exists = sub and ((PACKAGE.parent / (sub.replace(".", "/") + ".py")).is_file() or _is_package(sub))
                graph[me].add(sub if exists else module)
        if path.name == "__init__.py":
            graph[me] |= set(_lazy_targets(path))
        graph[me].discard(me)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def test_every_unit_has_a_place_in_the_pipeline():
    units = {_unit(_dotted(p)) for p in _modules()}
    assert units - set(RANK) == set(), "add new modules/packages to PIPELINE (and docs/design.md)"


def test_no_import_cycles():
    assert _cycles(_edges()) == []


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: _dotted(p))
def test_imports_flow_left_through_package_faces(path):
    me = _dotted(path)
    mine = _unit(me)
    problems = []
    for module, names, line in _imports(path):
        unit = _unit(module)
        if unit == mine or module == "hf_shrunk":
            continue
        if RANK[unit] > RANK[mine]:
            problems.append(f"line {line}: {module} is later in the pipeline")
        if _is_package(f"hf_shrunk.{unit}") and module != f"hf_shrunk.{unit}":
            problems.append(f"line {line}: imports {module}; use the package face hf_shrunk.{unit}")
        problems += [f"line {line}: imports private name {n} from {module}" for n in names if n.startswith("_")]
    assert problems == [], f"{me}:\n" + "\n".join(problems)


def test_cli_commands_name_package_faces():
    from hf_shrunk.cli import COMMANDS

    for command, (module, _) in COMMANDS.items():
        assert module.count(".") == 1, (command, module)
        assert _is_package(module) or (PACKAGE / f"{module.split('.')[1]}.py").is_file(), (command, module)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: _dotted(p))
def test_functions_stay_short(path):
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > 60
    ]
    assert long == [], f"{path.name}: split into named steps: {long}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: _dotted(p))
def test_modules_stay_readable(path):
    assert len(path.read_text().splitlines()) <= 450, f"{path.name} is too long; split it"


def _stage_packages() -> list[str]:
    return sorted(p.parent.name for p in PACKAGE.glob("*/__main__.py"))


def test_every_stage_package_runs_with_python_m():
    assert _stage_packages() == ["corpus", "glue", "models", "pretrain", "publish", "scaling", "sources", "tokenizer"]


def _imported_modules(argv: list[str]) -> tuple[subprocess.CompletedProcess, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, timeout=120, cwd=PACKAGE.parent
    )
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")
    }
    return proc, imported


HELP_COMMANDS = [
    ["--help"],
    *([c, "--help"] for c in ("data", "corpus", "tokenizer", "sizes", "pretrain", "glue", "fit", "publish", "demo")),
    ["env", "--help"],
    ["publish", "verify", "--help"],
    ["data", "mirror", "--help"],
]


@pytest.mark.slow
@pytest.mark.parametrize("argv", HELP_COMMANDS, ids=" ".join)
def test_every_subcommand_help_works_without_torch(argv):
    exe = Path(sys.executable).with_name("hf-shrunk")
    proc, imported = _imported_modules([str(exe), *argv])
    assert proc.returncode == 0, (argv, proc.stderr[-2000:])
    assert "usage" in proc.stdout.lower(), argv
    assert "torch" not in imported, f"hf-shrunk {' '.join(argv)} imported torch"


@pytest.mark.slow
@pytest.mark.parametrize("stage", [s for s in _stage_packages() if s != "pretrain"] + ["demo"])
def test_python_m_stage_help_matches_the_command(stage):
    """`python -m hf_shrunk.<stage> --help` runs that stage's command (it silently did nothing once)."""
    proc, _ = _imported_modules(["-m", f"hf_shrunk.{stage}", "--help"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage: hf-shrunk" in proc.stdout, proc.stdout[:500]
