"""The project's documents and the references to them: every ``*.md`` a project file names exists, the package table
of docs/design.md matches the tree, and every ``docs/<doc>.md#anchor`` points at a heading of that document."""

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hf_shrunk"
DOCS = ROOT / "docs"

# Which files are the project's text: these suffixes, Makefile, and the CI scripts in .ci/ (no suffix).
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".sh", ".slurm", ".j2", ".toml"}
TEXT_NAMES = {"Makefile"}
SKIP_DIRS = {"__pycache__", "build", "dist", "demo_output", "publish_out"}
SKIP_PATHS = {"tests/cards/golden"}  # rendered cards, compared byte for byte; they describe Hub repos, not this one

# A file name ending in .md, with an optional relative folder path. The look-behind keeps it from starting inside a
# longer path or a URL (``https://host/x/README.md`` never matches); the look-ahead rejects ``model_card.md.j2``.
MD_REF = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w-][\w.-]*\.md)(?![\w-])(?!\.\w)")
# References to a section: ``docs/paper.md#flops`` anywhere, ``[text](paper.md#flops)`` / ``(#flops)`` in docs/.
ANCHOR_REF = re.compile(r"docs/((?:design|paper)\.md)#([\w-]+)")
DOC_LINK = re.compile(r"\]\(((?:[\w-]+\.md)?)#([\w-]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
# Names that appear in the project but are not references to a project document.
NOT_REFERENCES = {
    "notes.md": "a file a test writes into a temporary folder",
}
PAPER_SECTIONS = [
    "vocabulary",
    "corpus-filter",
    "tokenizer",
    "model-families",
    "parameter-counts",
    "flops",
    "pretraining-recipe",
    "glue-protocol",
    "scaling-laws",
    "grid",
    "differences",
]


def text_files() -> list[Path]:
    """The project's text files (not .venv, caches, build output or the golden cards)."""
    found = []
    for folder, dirs, files in os.walk(ROOT):
        here = Path(folder)
        rel = here.relative_to(ROOT).as_posix()
        dirs[:] = [
            d
            for d in dirs
            if d not in SKIP_DIRS
            and not d.endswith(".egg-info")
            and (not d.startswith(".") or d == ".ci")
            and f"{rel}/{d}".removeprefix("./") not in SKIP_PATHS
        ]
        for name in files:
            path = here / name
            if path.suffix in TEXT_SUFFIXES or name in TEXT_NAMES or here.name == ".ci":
                found.append(path)
    return sorted(found)


def resolves(ref: str, where: Path) -> bool:
    """Whether ``ref`` names a file inside the repository, relative to the repository root, docs/, the referencing
    file's folder, or a folder below that one (a test naming its golden file by name)."""
    bases = [ROOT, DOCS, where.parent]
    for base in bases:
        target = (base / ref).resolve()
        if target.is_relative_to(ROOT) and target.is_file():
            return True
    if where.parent != ROOT and "/" not in ref:
        return any(p.is_file() for p in where.parent.rglob(ref) if p.resolve().is_relative_to(ROOT))
    return False


def broken_md_references(text: str, where: Path) -> list[str]:
    """The ``*.md`` names in ``text`` that name no file of the repository (see :func:`resolves`)."""
    refs = dict.fromkeys(m.group(1) for m in MD_REF.finditer(text))
    return [ref for ref in refs if ref not in NOT_REFERENCES and not resolves(ref, where)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower-case, punctuation removed, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown document's headings (fenced code blocks skipped)."""
    out, fenced = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            out.add(slug(match.group(1)))
    return out


def package_table(path: Path) -> list[str]:
    """The backticked ``hf_shrunk/...`` paths that start the rows of the package table."""
    return re.findall(r"^\|\s*`(hf_shrunk/[^`]*)`\s*\|", path.read_text(encoding="utf-8"), re.M)


def package_tree() -> set[str]:
    """Every folder (``path/``) and .py module of hf_shrunk/; sub-packages' ``__init__``/``__main__`` are covered
    by their folder's row, the top-level ones are listed."""
    out = set()
    for path in PACKAGE.rglob("*"):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(ROOT).as_posix()
        if path.is_dir():
            out.add(rel + "/")
        elif path.suffix == ".py" and (path.parent == PACKAGE or path.name not in ("__init__.py", "__main__.py")):
            out.add(rel)
    return out


# ---------------------------------------------------------------- (a) every named *.md exists


def test_every_md_reference_names_a_project_file():
    problems = []
    for path in text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        problems += [f"{path.relative_to(ROOT)}: {ref}" for ref in broken_md_references(text, path)]
    assert problems == [], "references to documents the project does not contain:\n" + "\n".join(problems)


def test_the_md_checker_finds_broken_references():
    md = ".md"  # spelled apart so that this file's own scan does not see the broken names
    where = PACKAGE / "models" / "grid.py"
    text = (
        f"see PAPER{md} §4 and DESIGN{md}, ../shared/STYLE{md}, docs/paper{md}#flops, README{md}, "
        f"https://github.com/org/repo/blob/main/NOTES{md}, templates/model_card{md}.j2, docs/missing{md}."
    )
    broken = ["PAPER", "DESIGN", "../shared/STYLE", "docs/missing"]
    assert broken_md_references(text, where) == [name + md for name in broken]


def test_the_scan_covers_the_project():
    names = {p.relative_to(ROOT).as_posix() for p in text_files()}
    assert {"README.md", "Makefile", "docs/design.md", "docs/paper.md", "hf_shrunk/configs/grid_paper.yaml"} <= names
    assert "hf_shrunk/cards/templates/model_card.md.j2" in names
    assert not any(n.startswith((".venv/", "tests/cards/golden/")) for n in names)


# ---------------------------------------------------------------- (b) the package table matches the tree


def test_design_package_table_matches_the_tree():
    rows = package_table(DOCS / "design.md")
    assert len(rows) == len(set(rows)), f"rows listed twice: {sorted({r for r in rows if rows.count(r) > 1})}"
    tree = package_tree()
    missing, stale = sorted(tree - set(rows)), sorted(set(rows) - tree)
    assert (missing, stale) == ([], []), f"docs/design.md package table: add rows for {missing}; remove {stale}"


def test_package_tree_lists_folders_modules_and_top_level_entry_points():
    tree = package_tree()
    assert {"hf_shrunk/__init__.py", "hf_shrunk/__main__.py", "hf_shrunk/corpus/", "hf_shrunk/corpus/rule.py"} <= tree
    assert {"hf_shrunk/configs/", "hf_shrunk/cards/templates/", "hf_shrunk/glue/metrics/"} <= tree
    assert "hf_shrunk/corpus/__init__.py" not in tree and "hf_shrunk/corpus/__main__.py" not in tree


# ---------------------------------------------------------------- (c) every section reference has its heading


def test_slug_is_githubs():
    assert slug("Improvements on the sketch") == "improvements-on-the-sketch"
    assert slug("The `glue` metric: v2!") == "the-glue-metric-v2"
    assert slug("FLOPs") == "flops"


def test_paper_has_the_stable_sections():
    assert set(PAPER_SECTIONS) <= anchors(DOCS / "paper.md")


def test_every_section_reference_points_to_a_heading():
    known = {name: anchors(DOCS / name) for name in ("design.md", "paper.md")}
    problems, seen = [], 0
    for path in text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        refs = list(ANCHOR_REF.findall(text))
        if path.parent == DOCS:
            refs += [(doc or path.name, anchor) for doc, anchor in DOC_LINK.findall(text)]
        seen += len(refs)
        problems += [f"{path.relative_to(ROOT)}: {doc}#{a}" for doc, a in refs if a not in known.get(doc, set())]
    assert problems == [], "no such heading:\n" + "\n".join(problems)
    assert seen > 40, "the scan found too few section references; is ANCHOR_REF still right?"
