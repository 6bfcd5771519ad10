"""hf_shrunk: small masked language models on a child-directed vocabulary, on the Hugging Face stack.

``import hf_shrunk`` registers the factorized family (``model_type="shrunk_roberta"``) with transformers'
Auto classes, so ``AutoModelForMaskedLM.from_pretrained(dir)`` works without ``trust_remote_code``.
"""

import os
import sys

__version__ = "0.1.0"


def _invoked_as_cli() -> bool:
    # The `hf-shrunk` console script imports this package before running its main(). Registering the Auto
    # classes imports torch (transformers 5 configs do), and `hf-shrunk --help` must answer instantly; every
    # command that builds models imports hf_shrunk.models.modeling, which registers them itself.
    if os.path.basename(sys.argv[0] if sys.argv else "") in ("hf-shrunk", "hf-shrunk.exe"):
        return True
    argv = getattr(sys, "orig_argv", [])  # `python -m hf_shrunk ...`
    return any(a == "-m" and b in ("hf_shrunk", "hf_shrunk.cli") for a, b in zip(argv, argv[1:], strict=False))


if not _invoked_as_cli():
    from hf_shrunk.models import register_auto_classes

    register_auto_classes()

# The user-facing API, imported on first use: loading from hf_shrunk.hub, GLUE on a pushed checkpoint from glue.
_API = {
    "list_sizes": "hf_shrunk.hub",
    "load_corpus": "hf_shrunk.hub",
    "load_model": "hf_shrunk.hub",
    "load_tokenizer": "hf_shrunk.hub",
    "repo_id": "hf_shrunk.hub",
    "evaluate_pushed": "hf_shrunk.glue",
}
__all__ = sorted(_API)


def __getattr__(name: str):
    from hf_shrunk.config import lazy_attribute

    return lazy_attribute(__name__, _API, name)
