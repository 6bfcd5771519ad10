"""The options of `hf-shrunk publish` (:class:`PublishConfig`) and of `hf-shrunk publish verify`
(:class:`VerifyConfig`): dataclasses filled from a YAML file and then from flags
(:func:`hf_shrunk.config.parse_config`). Must not import torch: ``--help`` answers from them."""

import dataclasses
import re

from hf_shrunk.config import CommonArgs, ConfigError, field, split_list

# A verify that downloads at most this many bytes of weights and data files hashes them all by default (--deep).
DEEP_AUTO_BYTES = 2_000_000_000

_SUFFIX = re.compile(r"[A-Za-z0-9._-]*")
SUFFIX_HELP = (
    "Appended to every model repo name so that seeds or variants of one size get repos of their own: seed1 (or "
    "--repo_suffix=-seed1) publishes <org>/shrunk-<slug>-seed1; a '-' is put in front unless it starts with '-', '_' "
    "or '.'. Letters, digits, '-', '_' and '.'. The dataset repo keeps its name."
)


def check_org(org: str | None) -> None:
    if org is not None and (not org.strip() or "/" in org):
        raise ConfigError(f"--org must be a Hub user or organisation name (no '/'), got {org!r}")


def check_repo_suffix(suffix: str) -> str:
    """``suffix`` with a leading '-' unless it starts with a separator; an error unless a repo name may end with it
    (the Hub's rules: no '--' or '..', no trailing '-' or '.')."""
    suffix = suffix or ""
    if suffix and suffix[0] not in "-_.":
        suffix = f"-{suffix}"
    if not _SUFFIX.fullmatch(suffix) or "--" in suffix or ".." in suffix or suffix.endswith(("-", ".")):
        raise ConfigError(
            f"--repo_suffix {suffix!r} cannot end a Hub repo name: use letters, digits, '-', '_' and '.', without "
            "'--' or '..' and not ending in '-' or '.' (e.g. seed1)"
        )
    return suffix


@dataclasses.dataclass
class PublishConfig(CommonArgs):
    overwrite: bool = field(
        False,
        help="Publish over a repo that holds another training run (its training_manifest.json names another run): "
        "its branches are replaced and its step branches that this run lacks are deleted. Without it, publish "
        "refuses and names both runs.",
    )
    org: str | None = field(None, help="Hub user or organisation that owns the repos (required).")
    sizes: list[str] = field(
        ["all"],
        help="Pretrain runs to publish (run names/slugs under <root>/pretrain/, or paths), 'all', or 'none' (only "
        "--dataset).",
    )
    repo_suffix: str = field("", help=SUFFIX_HELP)
    dataset: bool = field(False, help="Also publish the corpus dataset repo <org>/shrunk-corpus.")
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
        check_org(self.org)
        self.repo_suffix = check_repo_suffix(self.repo_suffix)


@dataclasses.dataclass
class VerifyConfig:
    org: str | None = field(None, help="Hub user or organisation whose suite to verify (required).")
    sizes: list[str] = field(
        ["all"],
        help="Slugs or repo ids to verify (default: every repo of the suite's Collection in --org, else the local "
        "pretrain runs).",
    )
    repo_suffix: str = field("", help="The --repo_suffix the suite was published with (slugs map to its repos).")
    dataset: bool = field(False, help="Also verify the corpus dataset repo <org>/shrunk-corpus.")
    deep: bool = field(
        False,
        help="Download every branch's weights (and the dataset's LFS files) and hash the bytes, instead of trusting "
        "the sha256 the Hub records for them: catches storage corrupted behind a correct LFS id. Default: deep "
        f"when those files total at most {DEEP_AUTO_BYTES / 1e9:g} GB, else shallow.",
    )
    shallow: bool = field(
        False, help="Do not download LFS files: compare the sha256 the Hub records for them (non-LFS files still are)."
    )
    token: str | None = field(None, help="Hub token (default: HF_TOKEN or `hf auth login`; public repos need none).")
    root: str | None = field(None, help="Artifact root, for the local runs (default: $HF_SHRUNK_HOME).")

    def __post_init__(self):
        self.sizes = split_list(self.sizes) or ["all"]
        check_org(self.org)
        self.repo_suffix = check_repo_suffix(self.repo_suffix)
        if self.deep and self.shallow:
            raise ConfigError("--deep and --shallow contradict each other: pass one (or neither: automatic)")
