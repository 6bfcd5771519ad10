"""Where the examples find a model when none is named: the folder `hf-shrunk demo` publishes to.

`hf-shrunk demo` ends with `publish --to_dir $HF_SHRUNK_HOME/demo/publish` (default HF_SHRUNK_HOME:
~/.cache/hf_shrunk): exactly the repos `hf-shrunk publish --org ORG` would push, one folder per repo and branch,
`models/<repo>/<branch>/`. Every example also takes a Hub repo id (ORG/shrunk-SLUG, for the namespace that published
the suite you want) or any local model folder instead.
"""

import sys
from pathlib import Path

from hf_shrunk.artifacts import artifact_root

HINT = (
    "run `hf-shrunk demo` first (it trains small models on a CPU in minutes and writes this folder), "
    "or pass a Hub repo id (ORG/shrunk-SLUG) or a local model folder"
)


def demo_root() -> Path:
    """The demo's artifact root: ``$HF_SHRUNK_HOME/demo`` (default ``~/.cache/hf_shrunk/demo``)."""
    return artifact_root() / "demo"


def demo_models() -> list[Path]:
    """The final-weights folders (``models/<repo>/main``) of the demo's publish folder, by repo name."""
    return sorted((demo_root() / "publish" / "models").glob("shrunk-*/main"))


def default_model(family: str = "roberta") -> str:
    """A model folder of the demo's publish folder, of ``family`` if there is one; exits with :data:`HINT` if the
    demo has not been run."""
    found = demo_models()
    if not found:
        sys.exit(f"no published demo models under {demo_root() / 'publish' / 'models'}: {HINT}")
    preferred = [path for path in found if path.parent.name.startswith(f"shrunk-{family}-")]
    return str((preferred or found)[-1])
