"""Which weights ``hf-shrunk glue`` fine-tunes (docs/paper.md#glue-protocol).

- **A pretrain run's checkpoint** (``--checkpoint``): ``best`` (lowest dev loss, what the paper fine-tuned; the
  default) or ``final``. ``model/`` holds one of them (``model_checkpoint`` in ``metrics.json``, what the Hub's
  ``main`` holds); the other is ``best/`` or the last ``snapshots/step{N}/``.
- **The random-init baseline** starts where pre-training started: the run's step-0 weights (``snapshots/step0/``
  locally, the ``step0`` revision on the Hub), so the two variants differ only by pre-training. Without them the
  initialisation is rebuilt from the scheme and seed that ``config.json`` (``shrunk_init``) or the run's config
  records, and the results say so (``baseline_init: "rebuilt:<scheme>"``).
"""

import dataclasses
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import artifact_root, fingerprint, read_json
from hf_shrunk.config import UserError
from hf_shrunk.pretrain import perplexity

STEP0 = "step0"
CHECKPOINTS = ("best", "final")


@dataclasses.dataclass
class Baseline:
    """Where the random-init baseline's weights come from."""

    location: str  # a local folder or a Hub repo id
    revision: str | None
    init: str  # "step0" or "rebuilt:<scheme>"
    note: str | None = None  # why the weights were rebuilt


def run_checkpoint(run_dir: Path, checkpoint: str) -> tuple[Path, str, float | None]:
    """(weights folder, results name, dev perplexity) of a finished pretrain run's ``best`` or ``final`` checkpoint.
    The results name is the run's when the checkpoint is the one in ``model/`` (the Hub's ``main``), else
    ``<run>@<checkpoint>``."""
    if checkpoint not in CHECKPOINTS:
        raise UserError(f"--checkpoint must be 'best' or 'final', got {checkpoint!r}")
    metrics = read_json(run_dir / "metrics.json") if (run_dir / "metrics.json").is_file() else {}
    held = metrics.get("model_checkpoint", "final")  # runs made before model_checkpoint kept the final weights
    if checkpoint == held:
        folder = run_dir / "model"
    elif checkpoint == "best":
        folder = run_dir / "best"
    else:
        folder = run_dir / "snapshots" / f"step{(metrics.get('final') or {}).get('step')}"
    if not (folder / "config.json").is_file():
        raise UserError(f"{run_dir} has no {checkpoint} weights ({folder} is missing); re-run its pretraining")
    record = metrics.get(checkpoint) or {}
    ppl = record.get("perplexity") or perplexity(record.get("eval_loss"))  # older runs kept only the loss
    return folder, run_dir.name if checkpoint == held else f"{run_dir.name}@{checkpoint}", ppl


def weights_for(ref: Any, variant: str) -> tuple[str, str | None]:
    """(location, revision) of the weights a variant starts fine-tuning from: the scored checkpoint, or for
    ``random-init`` the baseline that :func:`resolve_baseline` found."""
    if variant == "pretrained":
        return ref.location, ref.revision
    if ref.baseline is None:
        raise UserError("the random-init baseline was not resolved (resolve_baseline) before fine-tuning")
    return ref.baseline.location, ref.baseline.revision


def weights_record(ref: Any, variant: str) -> dict[str, Any]:
    """What a result records about its starting weights (and what a stored result must match to be reused)."""
    baseline = ref.baseline.init if variant != "pretrained" and ref.baseline is not None else None
    return {"checkpoint": ref.checkpoint, "baseline_init": baseline}


def resolve_baseline(ref: Any, root: str | None = None) -> Baseline:
    """The random-init baseline of ``ref`` (a ``ModelRef``): its run's step-0 weights, else a rebuilt
    initialisation (cached under ``<root>/cache/baseline/``)."""
    if ref.kind == "hub":
        if _hub_has_step0(ref.location):
            return Baseline(ref.location, STEP0, "step0")
        why = f"{ref.location} has no {STEP0} revision"
        scheme, seed, source = _hub_init_record(ref)
    else:
        runs = _run_folders(ref)
        step0 = next(
            (r / "snapshots" / STEP0 for r in runs if (r / "snapshots" / STEP0 / "config.json").is_file()), None
        )
        if step0 is not None:
            return Baseline(str(step0), None, "step0")
        why = f"no snapshots/{STEP0} next to {ref.location}"
        scheme, seed, source = _local_init_record(ref, runs)
    folder = _rebuild(ref.location, ref.revision, scheme, seed, root)
    note = f"random-init baseline: {why}; rebuilt with the {scheme!r} initialisation, seed {seed} ({source})"
    return Baseline(str(folder), None, f"rebuilt:{scheme}", note)


def _run_folders(ref: Any) -> list[Path]:
    """Pretrain run folders that may hold ``ref``'s weights: its run, or the parents of a ``model/``, ``best/`` or
    ``snapshots/step{N}/`` folder."""
    if ref.run_dir:
        return [Path(ref.run_dir)]
    path = Path(ref.location)
    return [p for p in (path.parent, path.parent.parent) if (p / "snapshots").is_dir()]


def _recorded_init(config: dict[str, Any]) -> tuple[str, int] | None:
    init = config.get("shrunk_init")
    return (init["scheme"], int(init.get("seed") or 0)) if isinstance(init, dict) and init.get("scheme") else None


def _from_run_config(run_config: dict[str, Any]) -> tuple[str, int] | None:
    scheme = (run_config.get("pretrain") or {}).get("init")
    return (scheme, int((run_config.get("training") or {}).get("seed") or 0)) if scheme else None


def _local_init_record(ref: Any, runs: list[Path]) -> tuple[str, int, str]:
    """(scheme, seed, where it was read) for a local model: config.json, else the run's run_config.json."""
    found = _recorded_init(read_json(Path(ref.location) / "config.json"))
    if found:
        return (*found, "config.json")
    for run in runs:
        if (run / "run_config.json").is_file() and (found := _from_run_config(read_json(run / "run_config.json"))):
            return (*found, f"{run.name}/run_config.json")
    return "hf", 0, "nothing recorded: transformers' initialisation"


def _hub_init_record(ref: Any) -> tuple[str, int, str]:
    """(scheme, seed, where it was read) for a Hub model: config.json, else training_manifest.json on main."""
    from huggingface_hub import hf_hub_download
    from transformers import AutoConfig

    found = _recorded_init(AutoConfig.from_pretrained(ref.location, revision=ref.revision).to_dict())
    if found:
        return (*found, "config.json")
    try:
        manifest = read_json(Path(hf_hub_download(ref.location, "training_manifest.json")))
    except OSError:  # an older or foreign repo: no manifest is an answer, not an error
        manifest = {}
    found = _from_run_config(manifest.get("config") or {})
    if found:
        return (*found, "training_manifest.json")
    return "hf", 0, "nothing recorded: transformers' initialisation"


def _hub_has_step0(repo: str) -> bool:
    """Whether ``repo`` has a loadable ``step0`` revision; a Hub that cannot be asked is an error, not a no."""
    from huggingface_hub.errors import RemoteEntryNotFoundError, RevisionNotFoundError
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(repo, revision=STEP0)
        return True
    except OSError as e:
        cause = e
        while cause is not None:
            if isinstance(cause, (RevisionNotFoundError, RemoteEntryNotFoundError)):
                return False
            cause = cause.__cause__ or cause.__context__
        raise UserError(
            f"cannot tell whether {repo} has a {STEP0} revision, the weights its random-init baseline starts from "
            f"({str(e).splitlines()[0]}). Go online, or score the baseline of a local run."
        ) from e


def _rebuild(location: str, revision: str | None, scheme: str, seed: int, root: str | None) -> Path:
    """The MLM weights pretraining would have started from (same config, scheme and seed), saved once."""
    from transformers import AutoConfig

    from hf_shrunk.models import build_model, save_model

    config = AutoConfig.from_pretrained(location, revision=revision)
    described = {k: v for k, v in config.to_dict().items() if k != "transformers_version"}
    folder = artifact_root(root) / "cache" / "baseline" / fingerprint({"config": described, "init": [scheme, seed]})
    if (folder / "config.json").is_file():
        return folder
    staging = folder.with_name(f".{folder.name}.staging")
    save_model(build_model(config, "mlm", init=scheme, seed=seed), staging)
    if not folder.exists():  # else a concurrent run saved the same weights first
        staging.replace(folder)
    return folder
