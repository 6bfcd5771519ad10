"""``hf-shrunk env``: what a bug report needs, in one block to paste.

hf_shrunk's version and git sha, Python and the platform, the versions of the libraries hf_shrunk runs on (read from
package metadata, so a broken install still gets reported), torch's view of the accelerators (CUDA and MPS, device
names), CPUs and memory, and the environment variables that change where hf_shrunk reads and writes or whether it
goes online. Secrets are never printed: ``HF_TOKEN`` shows as set or unset.

Plain ``argparse`` on purpose (not the stages' transformers-based parser): the command must work when transformers
or torch is what is broken. ``--help`` imports neither.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Sequence
from typing import Any

from hf_shrunk import __version__
from hf_shrunk.artifacts import artifact_root, git_sha

LIBRARIES = (
    "torch",
    "transformers",
    "accelerate",
    "datasets",
    "evaluate",
    "huggingface_hub",
    "tokenizers",
    "safetensors",
    "numpy",
)
ENV_VARS = (
    "HF_SHRUNK_HOME",
    "HF_SHRUNK_DATA_DIR",
    "HF_SHRUNK_ORG",
    "HF_ENDPOINT",
    "HF_HOME",
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_EVALUATE_OFFLINE",
    "HF_HUB_DISABLE_TELEMETRY",
    "CUDA_VISIBLE_DEVICES",
)
SECRETS = ("HF_TOKEN",)


def library_versions() -> dict[str, str | None]:
    """Installed version of each of :data:`LIBRARIES` (``None``: not installed), without importing them."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def accelerators() -> dict[str, Any]:
    """torch's CUDA and MPS availability and device names (imports torch; an import failure is reported)."""
    try:
        import torch
    except Exception as e:  # a bug report should say why torch does not import, not crash
        return {"error": f"import torch failed: {type(e).__name__}: {e}"}
    cuda = torch.cuda.is_available()
    mps_backend = getattr(torch.backends, "mps", None)
    return {
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
        "mps_available": bool(mps_backend and mps_backend.is_available()),
        "cpu_threads": torch.get_num_threads(),
    }


def checkout_state() -> dict[str, Any]:
    """Git sha of the hf_shrunk checkout and whether it has uncommitted changes (``None``: not a checkout)."""
    import subprocess

    sha = git_sha()
    if sha is None:
        return {"git_sha": None, "modified": None}
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=os.path.dirname(__file__), capture_output=True, text=True, timeout=5, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {"git_sha": sha, "modified": None}
    return {"git_sha": sha, "modified": bool(out.stdout.strip())}


def memory_bytes() -> int | None:
    """Physical memory of the machine (``None`` where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def environment_report(root: str | None = None) -> dict[str, Any]:
    """Everything ``hf-shrunk env`` prints, as a JSON-serialisable dict (``root``: the artifact root to show)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    memory = memory_bytes()
    return {
        "hf_shrunk": {"version": __version__, **checkout_state(), "location": os.path.dirname(__file__)},
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "platform": platform.platform(),
        "libraries": library_versions(),
        "accelerators": accelerators(),
        "cpu": {"count": os.cpu_count(), "usable": usable, "machine": platform.machine()},
        "memory_gib": round(memory / 2**30, 1) if memory else None,
        "artifact_root": str(artifact_root(root, check=False)),
        "environment": {name: os.environ.get(name) for name in ENV_VARS}
        | {name: ("set" if os.environ.get(name) else None) for name in SECRETS},
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as ``- key: value`` lines (Markdown, ready for an issue)."""
    shrunk, acc = report["hf_shrunk"], report["accelerators"]
    git = shrunk["git_sha"] or "unknown: not a git checkout"
    git += " with uncommitted changes" if shrunk["modified"] else ""
    lines = [
        f"- hf_shrunk: {shrunk['version']} (git {git}) at {shrunk['location']}",
        f"- Python: {report['python']['version']} ({report['python']['executable']})",
        f"- platform: {report['platform']}",
    ]
    lines += [f"- {name}: {version or 'not installed'}" for name, version in report["libraries"].items()]
    if "error" in acc:
        lines.append(f"- accelerators: unknown ({acc['error']})")
    else:
        devices = ", ".join(acc["cuda_devices"]) or "none"
        lines.append(f"- CUDA: {'available' if acc['cuda_available'] else 'not available'} (torch built with CUDA "
                     f"{acc['cuda_version'] or 'none'}; devices: {devices})")  # fmt: skip
        lines.append(f"- MPS: {'available' if acc['mps_available'] else 'not available'}")
        lines.append(f"- torch CPU threads: {acc['cpu_threads']}")
    cpu = report["cpu"]
    lines.append(f"- CPUs: {cpu['count']} ({cpu['usable']} usable by this process; {cpu['machine']})")
    lines.append(f"- RAM: {report['memory_gib']} GiB" if report["memory_gib"] else "- RAM: unknown")
    lines.append(f"- artifact root: {report['artifact_root']}")
    lines += [
        f"- {name}: {value if value is not None else '(unset)'}" for name, value in report["environment"].items()
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog or "hf-shrunk env",
        description="Print what a bug report needs: hf_shrunk version and git sha, Python, platform, library "
        "versions, CUDA/MPS and device names, CPUs, RAM, and the HF_SHRUNK_*/HF_* environment variables (HF_TOKEN "
        "only as set/unset). Paste the output into the issue.",
    )
    parser.add_argument("--json", action="store_true", help="Print JSON instead of Markdown lines.")
    parser.add_argument(
        "--root", default=None, help="Artifact root to report (default: $HF_SHRUNK_HOME or ~/.cache/hf_shrunk)."
    )
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    report = environment_report(args.root)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    from hf_shrunk.config import run_cli

    run_cli(main, "env")
