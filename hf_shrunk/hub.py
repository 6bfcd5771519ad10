"""Loading the published suite: sizes, repo ids, models, tokenizers, the corpus, and GLUE on a pushed checkpoint.

    import hf_shrunk
    hf_shrunk.list_sizes()                                    # the paper's 42 sizes, as slugs
    model = hf_shrunk.load_model("factorized-e32-h32-i64-a8-l1", revision="step8000")
    tokenizer = hf_shrunk.load_tokenizer("factorized-e32-h32-i64-a8-l1")
    corpus = hf_shrunk.load_corpus(split="validation")

Repos are ``<org>/shrunk-<slug>`` and ``<org>/shrunk-corpus`` (``hf-shrunk publish --org ORG`` writes them). There is
no default org: pass ``org=`` or set ``$HF_SHRUNK_ORG`` to the namespace that published the suite you want.

Remote code: the factorized family (``model_type: shrunk_roberta``) is not in transformers. Its repos ship
``modeling_shrunk.py`` so that ``AutoModelForMaskedLM.from_pretrained(repo, trust_remote_code=True)`` works where
hf_shrunk is not installed. These functions register hf_shrunk's own classes with the Auto classes first, so they
load every size without running code from the Hub and without ``trust_remote_code``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ORG_ENV = "HF_SHRUNK_ORG"
AUTO_CLASSES = {"mlm": "AutoModelForMaskedLM", "classification": "AutoModelForSequenceClassification"}
FAMILY_PREFIXES = ("roberta-", "factorized-")
MODEL_REPO_PREFIX = "shrunk-"  # model repos are <org>/shrunk-<slug>
DATASET_REPO_NAME = "shrunk-corpus"  # the corpus dataset repo is <org>/shrunk-corpus
# the vocabulary-filtered GLUE dev sets, which the filtered results in model cards point at
FILTERED_GLUE_REPO_NAME = "glue-vocab-filtered"


def default_org() -> str:
    """``$HF_SHRUNK_ORG``; an error that says what to do when it is unset (there is no built-in default)."""
    org = os.environ.get(ORG_ENV, "").strip()
    if not org:
        from hf_shrunk.config import ConfigError

        raise ConfigError(
            f"which Hub namespace published the models? Pass org='NAME' (or a full repo id 'NAME/shrunk-...', or a "
            f"local folder such as the demo's publish folder), or set {ORG_ENV}=NAME"
        )
    return org


def model_repo_name(slug: str) -> str:
    """The repo name (without owner) of a size: ``shrunk-<slug>``."""
    return f"{MODEL_REPO_PREFIX}{slug}"


def list_sizes(grid: str = "paper") -> list[str]:
    """Slugs of a grid's sizes (``"paper"``: the paper's 42 runs; ``"demo"``; or a grid YAML file)."""
    from hf_shrunk.models import load_grid

    return [size.slug for size in load_grid(grid).sizes]


def repo_id(size: str, org: str | None = None) -> str:
    """The Hub repo of a size.

    Args:
        size (`str`): a slug (``factorized-e32-h32-i64-a8-l1``), a paper run name (``magic-bee-26``), a repo name
            (``shrunk-...``) or a full repo id (``org/name``, returned as is).
        org (`str`, *optional*): the owner; default :func:`default_org`.
    """
    if "/" in size:
        return size
    if size.startswith(MODEL_REPO_PREFIX):
        name = size
    elif size.startswith(FAMILY_PREFIXES):
        name = model_repo_name(size)
    else:
        from hf_shrunk.models import load_grid

        name = model_repo_name(load_grid("paper").find(size).slug)  # a paper run name, or a helpful error
    return f"{org or default_org()}/{name}"


def _target(size_or_repo: str, org: str | None) -> str:
    return size_or_repo if Path(size_or_repo).is_dir() else repo_id(size_or_repo, org)


def load_model(
    size_or_repo: str, revision: str | None = None, task: str = "mlm", org: str | None = None, **kwargs: Any
) -> Any:
    """A published model (or a local model folder) with transformers' Auto classes.

    Args:
        size_or_repo (`str`): see :func:`repo_id`; an existing local directory is loaded from disk.
        revision (`str`, *optional*): a branch (``"step8000"``), tag or commit; default ``main`` (final weights).
        task (`str`, defaults to `"mlm"`): ``"mlm"`` (``AutoModelForMaskedLM``) or ``"classification"``
            (``AutoModelForSequenceClassification``; pass ``num_labels``).
        org (`str`, *optional*): the owner; default :func:`default_org`.
        **kwargs: passed to ``from_pretrained``.
    """
    if task not in AUTO_CLASSES:
        from hf_shrunk.config import ConfigError

        raise ConfigError(f"task must be one of {', '.join(AUTO_CLASSES)}, got {task!r}")
    import transformers

    from hf_shrunk.models import register_auto_classes

    register_auto_classes()  # hf_shrunk's classes: no remote code needed for the factorized family
    auto = getattr(transformers, AUTO_CLASSES[task])
    return auto.from_pretrained(_target(size_or_repo, org), revision=revision, **kwargs)


def load_tokenizer(size_or_repo: str, revision: str | None = None, org: str | None = None, **kwargs: Any) -> Any:
    """The tokenizer of a published model (every size of a suite shares one), via ``AutoTokenizer``."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(_target(size_or_repo, org), revision=revision, **kwargs)


def load_corpus(org: str | None = None, split: str | None = None, **kwargs: Any) -> Any:
    """The pre-training corpus ``<org>/shrunk-corpus`` with ``datasets.load_dataset`` (a ``DatasetDict``, or one
    ``Dataset`` with ``split``)."""
    from datasets import load_dataset

    return load_dataset(f"{org or default_org()}/{DATASET_REPO_NAME}", split=split, **kwargs)


@contextlib.contextmanager
def hub_errors(repo: str, revision: str | None = None, enabled: bool = True) -> Iterator[None]:
    """Turn the ``OSError`` of loading ``repo`` (at ``revision``) from the Hub into a :class:`UserError` that says
    what to check: the repo id and revision, and, offline (``HF_HUB_OFFLINE=1``), that only cached repos load."""
    try:
        yield
    except OSError as e:
        if not enabled:
            raise
        from hf_shrunk.config import UserError

        what = repo + (f"@{revision}" if revision else "")
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
        hint = (
            "HF_HUB_OFFLINE=1 is set, so only repos already in the Hugging Face cache load: run once online "
            "(HF_HUB_OFFLINE=0) or pass a local model folder instead"
            if offline
            else "check the repo id (owner/name) and the revision, and that you may read it (`hf auth login`)"
        )
        raise UserError(f"cannot load the model {what} from the Hub ({first}); {hint}") from e
