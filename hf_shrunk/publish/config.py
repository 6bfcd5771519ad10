"""The options of `hf-shrunk publish`: one dataclass, filled from a YAML file and then from flags
(:func:`hf_shrunk.config.parse_config`). Must not import torch: ``--help`` answers from it."""

import dataclasses

from hf_shrunk.config import CommonArgs, ConfigError, field, split_list


@dataclasses.dataclass
class PublishConfig(CommonArgs):
    org: str | None = field(None, help="Hub user or organisation that owns the repos (required).")
    sizes: list[str] = field(
        ["all"],
        help="Pretrain runs to publish (run names/slugs under <root>/pretrain/, or paths), 'all', or 'none' (only "
        "--dataset). For `publish verify`: slugs or repo ids (default: every repo of the suite's Collection).",
    )
    dataset: bool = field(False, help="Also publish (or verify) the corpus dataset repo <org>/shrunk-corpus.")
    corpus: str = field("default", help="Corpus artifact for the dataset repo.")
    tokenizer: str = field("default", help="Tokenizer artifact shipped in the dataset repo (skipped if absent).")
    fit: str | None = field("default", help="Fit artifact whose results the cards quote (skipped if absent).")
    dry_run: bool = field(
        False,
        help="Print the plan (repos, branches, files, sizes) and render the cards into --to_dir (default "
        "<root>/publish/<org>/); push nothing.",
    )
    to_dir: str | None = field(
        None,
        help="Write exactly the trees that would be pushed into this folder (<dir>/models/<repo>/<branch>/..., "
        "<dir>/datasets/<repo>/main/..., plan.json); push nothing.",
    )
    token: str | None = field(None, help="Hub token (default: HF_TOKEN or the token saved by `hf auth login`).")
    private: bool = field(False, help="Create private repos (and a private Collection).")
    collection: bool = field(True, help="Add the published repos to the suite's Collection on the Hub.")
    allow_missing_results: bool = field(False, help="Publish models without GLUE results (the card says so).")
    license: str = field("apache-2.0", help="License of the published models.")

    def __post_init__(self):
        self.sizes = split_list(self.sizes) or ["all"]
        if self.org is not None and (not self.org.strip() or "/" in self.org):
            raise ConfigError(f"--org must be a Hub user or organisation name (no '/'), got {self.org!r}")
