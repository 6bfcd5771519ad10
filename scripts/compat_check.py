"""Load published model folders in two transformers versions and compare (driven by scripts/compat_check.sh).

    python scripts/compat_check.py make DIR                       # tiny roberta + factorized folders (needs hf_shrunk)
    python scripts/compat_check.py probe FOLDER... --out FILE     # token ids and logits, or the loading error
    python scripts/compat_check.py compare REFERENCE.json OTHER.json

``probe`` never imports hf_shrunk: it loads a folder the way a user without hf_shrunk does, the tokenizer with
``AutoTokenizer(trust_remote_code=False)`` and the model with ``AutoModelForMaskedLM(trust_remote_code=True)``.
A FOLDER is a model folder (``config.json``) or a publish folder (``hf-shrunk publish --to_dir``; its
``models/*/main`` are probed). ``compare`` passes when token ids are equal and logits agree within 1e-5, or, for a
factorized folder on a transformers older than the ``MIN_TRANSFORMERS`` of its ``configuration_shrunk.py``, when
loading failed with an ImportError that names that version.
"""

import argparse
import json
import re
import sys
from pathlib import Path

SENTENCES = ["the little dog <mask> the ball .", "the cat <mask> on the mat", "we like to <mask> with the baby ."]
TOLERANCE = 1e-5


def make(out: Path) -> None:
    """A roberta and a factorized model folder (random weights, 300-token tokenizer) under ``out``."""
    from hf_shrunk.models import Size, build_config, build_model, save_model
    from hf_shrunk.tokenizer import train_tokenizer

    words = "the a little big dog cat ball baby mat sat sees likes plays runs we they on with to and".split()
    texts = [" ".join(words[(i * 7 + j * 3) % len(words)] for j in range(9)) + " ." for i in range(300)]
    tokenizer = train_tokenizer(texts, vocab_size=300, show_progress=False)
    sizes = {"roberta": Size("roberta", 32, 32, 64, 2, 2), "factorized": Size("factorized", 16, 32, 64, 2, 2)}
    for name, size in sizes.items():
        save_model(build_model(build_config(size, tokenizer), seed=0), out / name, tokenizer=tokenizer)
        print(f"made {out / name}")


def model_folders(paths: list[str]) -> list[Path]:
    folders = []
    for path in map(Path, paths):
        found = [path] if (path / "config.json").is_file() else sorted(path.glob("models/*/main"))
        if not found:
            raise SystemExit(f"{path}: neither a model folder (config.json) nor a publish folder (models/*/main)")
        folders += found
    return folders


def probe_folder(folder: Path) -> dict:
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
    except Exception as e:  # recorded, judged by `compare`
        return {"tokenizer_class": None, "ids": None, "error": f"tokenizer: {type(e).__name__}: {e}"}
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    result = {"tokenizer_class": type(tokenizer).__name__, "ids": batch["input_ids"].tolist()}
    try:
        model = AutoModelForMaskedLM.from_pretrained(str(folder), trust_remote_code=True).eval()
    except Exception as e:  # recorded, judged by `compare`
        return result | {"error": f"{type(e).__name__}: {e}"}
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return result | {"model_class": type(model).__name__, "logits": logits.tolist()}


def probe(paths: list[str], out: Path) -> None:
    import transformers

    results = {str(folder): probe_folder(folder) for folder in model_folders(paths)}
    out.write_text(json.dumps({"transformers": transformers.__version__, "folders": results}))
    for folder, result in results.items():
        state = result.get("error") or f"{result['model_class']}, logits {len(result['logits'])} sequences"
        print(f"transformers {transformers.__version__}: {folder}: {result['tokenizer_class'] or '-'}; {state}")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def min_transformers(folder: str) -> str | None:
    """``MIN_TRANSFORMERS`` of the folder's remote code (None: stock architecture, no remote code)."""
    code = Path(folder) / "configuration_shrunk.py"
    found = re.search(r'MIN_TRANSFORMERS = "([^"]+)"', code.read_text()) if code.is_file() else None
    return found.group(1) if found else None


def max_difference(a: list, b: list) -> float:
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return float("inf")
        return max((max_difference(x, y) for x, y in zip(a, b, strict=True)), default=0.0)
    return abs(a - b)


def judge(folder: str, ref: dict, other: dict, version: str) -> list[str]:
    """Problems with ``other`` (a probe under transformers ``version``) against ``ref``; empty = pass."""
    for probe_result in (ref, other):
        if probe_result["ids"] is None:
            return [f"{folder}: the tokenizer does not load: {probe_result['error']}"]
    if other["ids"] != ref["ids"]:
        return [f"{folder}: token ids differ: {ref['ids']} vs {other['ids']}"]
    minimum = min_transformers(folder)
    if minimum and _version(version) < _version(minimum):
        error = other.get("error") or ""
        if error.startswith("ImportError") and f"transformers>={minimum}" in error:
            return []
        return [f"{folder}: transformers {version} < {minimum} should fail with an ImportError naming {minimum}"]
    if "error" in ref or "error" in other:
        return [f"{folder}: loading failed: {ref.get('error') or other.get('error')}"]
    diff = max_difference(ref["logits"], other["logits"])
    return [] if diff <= TOLERANCE else [f"{folder}: logits differ by {diff:.3g} (tolerance {TOLERANCE})"]


def compare(reference: Path, other: Path) -> int:
    ref, oth = json.loads(reference.read_text()), json.loads(other.read_text())
    problems = []
    for folder, result in ref["folders"].items():
        found = judge(folder, result, oth["folders"][folder], oth["transformers"])
        problems += found
        outcome = "FAIL" if found else ("refused with a clear message" if "error" in oth["folders"][folder] else "ok")
        diff = "" if "error" in oth["folders"][folder] else f" (max |Δlogit| {_diff(result, oth['folders'][folder])})"
        print(f"{outcome}: {folder}: transformers {ref['transformers']} vs {oth['transformers']}{diff}")
    print("\n".join(problems))
    return 1 if problems else 0


def _diff(a: dict, b: dict) -> str:
    return f"{max_difference(a['logits'], b['logits']):.2g}" if "logits" in a and "logits" in b else "n/a"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("make").add_argument("out", type=Path)
    probe_parser = sub.add_parser("probe")
    probe_parser.add_argument("folders", nargs="+")
    probe_parser.add_argument("--out", type=Path, required=True)
    compare_parser = sub.add_parser("compare")
    compare_parser.add_argument("reference", type=Path)
    compare_parser.add_argument("other", type=Path)
    args = parser.parse_args()
    if args.command == "make":
        make(args.out)
        return 0
    if args.command == "probe":
        probe(args.folders, args.out)
        return 0
    return compare(args.reference, args.other)


if __name__ == "__main__":
    sys.exit(main())
