"""``hf-shrunk``: one subcommand per stage, each the ``main(argv, prog)`` of that stage's package.

Stage packages are imported only when their command runs, so ``hf-shrunk --help`` and every
``hf-shrunk <command> --help`` answer without importing torch. ``python -m hf_shrunk.<package>`` runs the same
``main`` (see each package's ``__main__.py``).
"""

import importlib
import sys
from collections.abc import Sequence

from hf_shrunk import __version__
from hf_shrunk.config import run_cli

# command -> (package whose main(argv, prog) runs it, one-line description). Order = pipeline order.
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("hf_shrunk.sources", "Data mirrors: `data mirror --to DIR` downloads the study's data; `data status`."),
    "corpus": ("hf_shrunk.corpus", "Filter raw English to the child-directed vocabulary; group and split it."),
    "tokenizer": ("hf_shrunk.tokenizer", "Train the byte-level BPE tokenizer (RoBERTa layout) on a corpus."),
    "sizes": ("hf_shrunk.models", "List the model grid: dimensions, parameter counts, FLOPs per sequence."),
    "pretrain": ("hf_shrunk.pretrain", "Pretrain one grid size with Trainer under `accelerate launch`."),
    "glue": ("hf_shrunk.glue", "Fine-tune and score a checkpoint on GLUE (filtered and full)."),
    "fit": ("hf_shrunk.scaling", "Fit scaling laws (frontier, broken power law), correlations, plots."),
    "publish": ("hf_shrunk.publish", "Publish models, checkpoints and the corpus to the Hub (`publish verify`)."),
    "demo": ("hf_shrunk.demo", "The whole study in minutes on a CPU, ending in a publish-ready folder."),
    "env": ("hf_shrunk.env", "Print versions, devices and settings for a bug report."),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [
        f"usage: hf-shrunk <command> [options]   (hf_shrunk {__version__})",
        "",
        "Small masked language models on a child-directed vocabulary (Deshpande et al., 2023, 'Honey, I Shrunk",
        "the Language'), on the Hugging Face stack.",
        "",
        "commands:",
    ]
    lines += [f"  {name:<{width}}  {desc}" for name, (_, desc) in COMMANDS.items()]
    lines += [
        "",
        "Run `hf-shrunk <command> --help` for a command's options. Stages read and write artifact folders under",
        "$HF_SHRUNK_HOME (default ~/.cache/hf_shrunk); every command takes --root to use another one.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] in ("-V", "--version"):
        print(f"hf_shrunk {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(command, COMMANDS, n=1)
        hint = f" Did you mean `hf-shrunk {close[0]}`?" if close else ""
        print(f"hf-shrunk: unknown command {command!r}.{hint} Run `hf-shrunk --help` for the list.", file=sys.stderr)
        return 2
    package = importlib.import_module(COMMANDS[command][0])
    return run_cli(package.main, command, rest)
