"""Project layout rules (DESIGN.md §2): data flows one way, files stay readable, --help stays light."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import hf_shrunk

PACKAGE = Path(hf_shrunk.__file__).parent

# Pipeline order: a module may import only modules of its own step or of steps to its left.
# vocab -> corpus -> tokenizer -> grid/modeling -> pretrain -> glue -> scaling -> cards -> publish -> hub -> demo
PIPELINE = [
    {"config", "stage_configs", "artifacts"},
    {"vocab"},
    {"sources", "sources_files", "sources_fallback", "sources_corpus", "sources_glue", "sources_mirror"},
    {"corpus", "corpus_filter", "corpus_batch", "corpus_exec", "corpus_datatrove"},
    {"tokenizer"},
    {"grid", "configuration_shrunk", "modeling_shrunk", "modeling"},
    {"pretrain_data", "pretrain_trainer", "pretrain", "launch"},
    {"metrics", "glue_data", "glue"},
    {"scaling", "scaling_data", "scaling_fit", "scaling_plots"},
    {"cards", "cards_glue", "cards_dataset"},
    {"publish", "publish_plan", "publish_dataset", "publish_verify"},
    {"hub"},
    {"demo", "cli", "__main__"},
]
RANK = {name: i for i, step in enumerate(PIPELINE) for name in step}


def _is_main_block(node: ast.AST) -> bool:
    """``if __name__ == "__main__":`` — a script entry point may hand over to the CLI."""
    return isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)


def _hf_shrunk_imports(path: Path) -> set[str]:
    names = set()
    tree = ast.parse(path.read_text())
    tree.body = [node for node in tree.body if not _is_main_block(node)]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hf_shrunk"):
            parts = node.module.split(".")
            names.add(parts[1] if len(parts) > 1 else (node.names[0].name if node.names else ""))
        elif isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("hf_shrunk.")}
    return names


def _modules():
    return sorted(p for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def test_every_module_has_a_place_in_the_pipeline():
    assert {p.stem for p in _modules()} - set(RANK) == set()


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.stem)
def test_imports_only_flow_left(path):
    late = {name: RANK.get(name) for name in _hf_shrunk_imports(path) if RANK.get(name, -1) > RANK[path.stem]}
    assert late == {}, f"{path.stem} imports modules later in the pipeline: {late}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.stem)
def test_modules_stay_readable(path):
    assert len(path.read_text().splitlines()) <= 450, f"{path.name} is too long; split it"


def test_every_subcommand_help_works_without_torch():
    from hf_shrunk.cli import COMMANDS

    exe = Path(sys.executable).with_name("hf-shrunk")
    commands = [[c, "--help"] for c in COMMANDS] + [
        ["--help"],
        ["publish", "verify", "--help"],
        ["data", "mirror", "--help"],
    ]
    for argv in commands:
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", str(exe), *argv], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, (argv, proc.stderr[-2000:])
        assert "usage" in proc.stdout.lower(), argv
        imported = {
            line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")
        }
        assert "torch" not in imported, f"hf-shrunk {' '.join(argv)} imported torch"
