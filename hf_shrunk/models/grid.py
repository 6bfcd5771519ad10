"""The model grid as data: sizes, slugs, parameter counts and FLOPs in closed form, and ``hf-shrunk sizes``.

A grid is a YAML file (``hf_shrunk/configs/grid_paper.yaml``, ``grid_demo.yaml`` or the user's) listing
dimensions only; everything derived — the slug, parameter counts, FLOPs — is computed here. This module is pure
Python (no torch), so ``hf-shrunk sizes`` is instant; ``hf_shrunk.models.modeling`` checks these formulas against real
models (the test suite asserts they equal ``numel`` sums).
"""

import dataclasses
import difflib
import json
import re
from collections.abc import Sequence
from pathlib import Path

from hf_shrunk.config import CONFIG_DIR, ConfigError, load_yaml, parse_config
from hf_shrunk.models.config import SizesConfig
from hf_shrunk.numbers import human

FAMILIES = ("roberta", "factorized")
SEQ_LEN = 128  # docs/paper.md#flops: all FLOPs are per 128-token training sequence
POSITIONS = 130  # max_position_embeddings: RoBERTa offsets positions by padding_idx + 1, so 128 usable
TYPE_VOCAB = 2
PAPER_VOCAB = 19_010  # 19,000 BPE tokens + 10 (docs/paper.md#tokenizer)


@dataclasses.dataclass(frozen=True)
class Size:
    """One model size. ``E`` = embedding width, ``H`` = hidden, ``I`` = FFN, ``A`` = heads used, ``L`` = layers.

    ``requested_heads`` is what a grid asked for (the paper's factorized runs asked for other numbers but ran
    with 8 heads, docs/paper.md#model-families); it defaults to ``A``. ``run`` and ``group`` name the paper's
    run, if any.
    """

    family: str
    E: int
    H: int
    I: int  # noqa: E741 - the paper's name for the FFN width
    A: int
    L: int
    requested_heads: int | None = None
    run: str | None = None
    group: str | None = None

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ConfigError(f"family must be one of {FAMILIES}, got {self.family!r}")
        for name in ("E", "H", "I", "A", "L"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ConfigError(f"{self.family} size: {name} must be a positive integer, got {value!r}")
        if self.H % self.A:
            raise ConfigError(
                f"{self.family} size E={self.E} H={self.H}: {self.A} attention heads do not divide the hidden size "
                f"{self.H}; choose heads among {[d for d in range(1, self.H + 1) if self.H % d == 0]}"
            )
        if self.family == "roberta" and self.E != self.H:
            raise ConfigError(
                f"roberta family ties input and output embeddings, so E must equal H (got E={self.E}, H={self.H}); "
                "use family: factorized for E != H"
            )
        if self.requested_heads is None:
            object.__setattr__(self, "requested_heads", self.A)

    @property
    def slug(self) -> str:
        """Stable, unique, Hub-safe name derived from the dimensions (``factorized-e32-h32-i64-a8-l1``)."""
        if self.family == "roberta":
            return f"roberta-h{self.H}-i{self.I}-a{self.A}-l{self.L}"
        return f"factorized-e{self.E}-h{self.H}-i{self.I}-a{self.A}-l{self.L}"


# ---------------------------------------------------------------- parameters (docs/paper.md#parameter-counts)


def embedding_parameters(size: Size, vocab_size: int = PAPER_VOCAB) -> int:
    """Parameters whose name contains ``embedding``: word + position + token-type tables and their LayerNorm."""
    return size.E * (vocab_size + POSITIONS + TYPE_VOCAB) + 2 * size.E


def layer_parameters(size: Size) -> int:
    """One encoder layer: Q, K, V, output projection (+ biases), 2 LayerNorms, the FFN's two Linear layers."""
    H, I = size.H, size.I  # noqa: E741
    return 4 * (H * H + H) + 2 * (2 * H) + (H * I + I) + (I * H + H)


def non_embedding_parameters(size: Size, vocab_size: int = PAPER_VOCAB) -> int:
    """Everything else: E->H projection (factorized), encoder, MLM head (the factorized decoder is untied)."""
    H = size.H
    head = H * H + H + 2 * H  # dense + LayerNorm
    if size.family == "roberta":
        head += vocab_size  # decoder weight tied to the word embeddings; its bias is counted here
        projection = 0
    else:
        head += H * vocab_size + vocab_size
        projection = size.E * H + H + 2 * H  # Linear(E->H) + LayerNorm(H)
    return projection + size.L * layer_parameters(size) + head


def parameter_counts(size: Size, vocab_size: int = PAPER_VOCAB) -> dict[str, int]:
    emb = embedding_parameters(size, vocab_size)
    non = non_embedding_parameters(size, vocab_size)
    return {"total": emb + non, "embedding": emb, "non_embedding": non}


# ---------------------------------------------------------------- FLOPs per training sequence (docs/paper.md#flops)


def flops_per_sequence_paper(size: Size, vocab_size: int = PAPER_VOCAB, seq: int = SEQ_LEN) -> int:
    """Training FLOPs per sequence exactly as the paper computed them (3 x forward).

    forward = 2sVE + 2sEH + L[6sH(kA) + 2s²(kA) + 3As² + 2s(2HI)] + 2sHV with kA = H and A the *requested*
    heads (this reproduces the paper's logged values, e.g. magic-bee-26 -> 943,964,160). The paper omits the
    value reduction and the attention output projection, and charges the E->H term even for tied models.
    """
    E, H, I, A, L, V = size.E, size.H, size.I, size.requested_heads, size.L, vocab_size  # noqa: E741
    layer = 2 * 3 * seq * H * H + 2 * seq**2 * H + 3 * A * seq**2 + 2 * seq * (2 * H * I)
    forward = 2 * seq * V * E + 2 * seq * E * H + L * layer + 2 * seq * H * V
    return 3 * forward


def flops_per_sequence_corrected(size: Size, vocab_size: int = PAPER_VOCAB, seq: int = SEQ_LEN) -> int:
    """Training FLOPs per sequence counting every matrix multiply of the model that is actually built (3 x forward).

    Per layer: Q/K/V (6sH²), scores (2s²H), softmax (3As², the paper's term, with the heads really used), value
    reduction (2s²H), output projection (2sH²), FFN (4sHI). Plus the E->H projection (factorized only: tied
    models have none), the MLM head's dense layer (2sH²) and decoder (2sHV). Embedding lookups are not
    multiplies and cost nothing here.
    """
    E, H, I, A, L, V = size.E, size.H, size.I, size.A, size.L, vocab_size  # noqa: E741
    layer = 6 * seq * H * H + 2 * seq**2 * H + 3 * A * seq**2 + 2 * seq**2 * H + 2 * seq * H * H + 4 * seq * H * I
    projection = 2 * seq * E * H if size.family == "factorized" else 0
    forward = projection + L * layer + 2 * seq * H * H + 2 * seq * H * V
    return 3 * forward


FLOPS_CONVENTIONS = {"paper": flops_per_sequence_paper, "corrected": flops_per_sequence_corrected}


def flops_per_sequence(size: Size, vocab_size: int = PAPER_VOCAB, seq: int = SEQ_LEN) -> dict[str, int]:
    return {name: fn(size, vocab_size, seq) for name, fn in FLOPS_CONVENTIONS.items()}


# ---------------------------------------------------------------- grids


@dataclasses.dataclass
class Grid:
    name: str
    sizes: list[Size]
    vocab_size: int = PAPER_VOCAB
    source: str = ""

    def find(self, key: str) -> Size:
        """The size whose slug or paper run name is ``key``; an unknown key suggests the closest."""
        for size in self.sizes:
            if key in (size.slug, size.run):
                return size
        names = [s.slug for s in self.sizes] + [s.run for s in self.sizes if s.run]
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"no size {key!r} in grid {self.name!r}.{hint} List them with `hf-shrunk sizes --grid {self.name}`."
        )


def _size_from_entry(entry: dict, heads_used: dict, where: str) -> Size:
    entry = dict(entry)
    known = {"family", "E", "H", "I", "heads", "L", "run", "group"}
    unknown = set(entry) - known
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; a size has {sorted(known)}")
    family = entry.get("family", "factorized")
    missing = [k for k in ("H", "I", "heads", "L") if k not in entry]
    if missing:
        raise ConfigError(f"{where}: missing {missing}")
    requested = entry["heads"]
    used = heads_used.get(family, requested)
    E = entry.get("E", entry["H"])
    return Size(family, E, entry["H"], entry["I"], used, entry["L"], requested, entry.get("run"), entry.get("group"))


def load_grid(spec: str = "paper") -> Grid:
    """Load ``'paper'``, ``'demo'`` (packaged) or a grid YAML file; checks slugs are unique."""
    path = CONFIG_DIR / f"grid_{spec}.yaml" if spec in ("paper", "demo") else Path(spec)
    if not path.is_file():
        raise ConfigError(f"grid {spec!r}: no such file {path}; use 'paper', 'demo' or a YAML file")
    data = load_yaml(path)
    entries = data.get("sizes")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: expected a non-empty list under 'sizes:'")
    heads_used = data.get("heads_used") or {}
    sizes = [_size_from_entry(e, heads_used, f"{path} sizes[{i}]") for i, e in enumerate(entries)]
    seen: dict[str, int] = {}
    for i, size in enumerate(sizes):
        if size.slug in seen:
            raise ConfigError(f"{path}: sizes[{seen[size.slug]}] and sizes[{i}] are the same model ({size.slug})")
        seen[size.slug] = i
    source = f"packaged {path.name}" if path.parent == CONFIG_DIR else str(path)
    return Grid(data.get("name", path.stem), sizes, int(data.get("vocab_size", PAPER_VOCAB)), source)


def size_table(grid: Grid, vocab_size: int | None = None) -> list[dict]:
    """One row per size: dimensions, parameter counts and FLOPs per sequence (both conventions)."""
    vocab = vocab_size or grid.vocab_size
    rows = []
    for size in grid.sizes:
        row = {"slug": size.slug, "run": size.run, "family": size.family, "E": size.E, "H": size.H, "I": size.I}
        row |= {"A": size.A, "A_requested": size.requested_heads, "L": size.L, "vocab_size": vocab}
        row |= {f"params_{k}": v for k, v in parameter_counts(size, vocab).items()}
        row |= {f"flops_{k}": v for k, v in flops_per_sequence(size, vocab).items()}
        rows.append(row)
    return rows


def format_table(rows: Sequence[dict]) -> str:
    headers = [
        "slug",
        "run",
        "E",
        "H",
        "I",
        "A(req)",
        "L",
        "params",
        "embedding",
        "non-emb",
        "FLOPs/seq paper",
        "corrected",
    ]
    body = [
        [
            r["slug"],
            r["run"] or "-",
            str(r["E"]),
            str(r["H"]),
            str(r["I"]),
            f"{r['A']}({r['A_requested']})" if r["A"] != r["A_requested"] else str(r["A"]),
            str(r["L"]),
            f"{r['params_total']:,}",
            f"{r['params_embedding']:,}",
            f"{r['params_non_embedding']:,}",
            human(r["flops_paper"]),
            human(r["flops_corrected"]),
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.rjust(w) if re.match(r"^[\d,.()A-Z]+$", c) else c.ljust(w) for c, w in zip(b, widths, strict=True))
        for b in body
    ]
    return "\n".join(lines)


def format_markdown(rows: Sequence[dict]) -> str:
    lines = [
        "| slug | paper run | E | H | I | heads (requested) | L | parameters | embedding | non-embedding "
        "| FLOPs/seq (paper) | FLOPs/seq (corrected) |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        heads = f"{r['A']} ({r['A_requested']})" if r["A"] != r["A_requested"] else str(r["A"])
        lines.append(
            f"| `{r['slug']}` | {r['run'] or ''} | {r['E']} | {r['H']} | {r['I']} | {heads} | {r['L']} | "
            f"{r['params_total']:,} | {r['params_embedding']:,} | {r['params_non_embedding']:,} | "
            f"{r['flops_paper']:.3g} | {r['flops_corrected']:.3g} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    (cfg,) = parse_config(
        [SizesConfig],
        argv,
        prog=prog,
        description="List a model grid: slug, family, E/H/I/A/L, total/embedding/non-embedding parameters and "
        "FLOPs per 128-token training sequence in the paper's and the corrected convention. A(req) shows heads "
        "used and, if different, the heads the paper's grid requested.",
    )
    grid = load_grid(cfg.grid)
    rows = size_table(grid, cfg.vocab_size)
    if cfg.json:
        print(json.dumps(rows, indent=2))
    elif cfg.markdown:
        print(format_markdown(rows))
    else:
        print(f"grid {grid.name} ({len(rows)} sizes, vocab {rows[0]['vocab_size']:,}; {grid.source})")
        print(format_table(rows))
    return 0
