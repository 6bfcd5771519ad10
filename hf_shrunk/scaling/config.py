"""The options of `hf-shrunk fit`: one dataclass, filled from a YAML file and then from flags
(:func:`hf_shrunk.config.parse_config`). Must not import torch: ``--help`` answers from it."""

import dataclasses

from hf_shrunk.config import CommonArgs, ConfigError, field, split_list


@dataclasses.dataclass
class FitConfig(CommonArgs):
    name: str = field("default", help="Output name under <root>/fit/ (a name, not a path: --root chooses the folder).")
    runs: list[str] = field(["all"], help="Pretrain runs to collect points from (names or paths), or 'all'.")
    points_csv: str | None = field(
        None,
        help="CSV of points instead of runs: run, step, params, non_embedding_params, tokens, flops (or flops_paper / "
        "flops_corrected / flops_kaplan), loss. Header case and punctuation do not matter and the paper's headers "
        "(run_name, eval/loss, 'FLOPS Hoffman total', ...) are understood.",
    )
    glue: list[str] = field(
        ["auto"], help="GLUE summary.json files/folders for the correlation ('auto': all under <root>/glue; 'none')."
    )
    x: str = field("flops_paper", help="Compute axis: flops_paper, flops_corrected, or (CSV input only) flops_kaplan.")
    bins: int = field(30, help="Log-spaced compute bins for the frontier (paper: 30).")
    frontier: str = field(
        "auto",
        help="'bins': frontier = lowest loss per compute bin (docs/paper.md#scaling-laws); 'none': fit all points "
        "as given; 'auto': "
        "'bins', except for a CSV that already is a frontier (a 'FLOP bins'/'frontier_bin' column with one point "
        "per bin, like the paper's COMPUTE_OPTIMAL_RESULTS.csv), whose points are kept as they are.",
    )
    frontier_evals: str = field(
        "cadence",
        help="Which evaluations of a run feed the frontier: 'cadence' (its regular evaluations plus the last step, as "
        "the paper's Figure 1) or 'all' (also the extra evaluations at snapshot steps 1, 2, 4, ...). Loss curves "
        "always show all.",
    )
    break_at: str = field("auto", help="Break of the power law: 'auto' (found from data), 'none' or a value (2.2e15).")
    min_segment_points: int = field(3, help="Fewest frontier points on each side of a break.")
    bootstrap: int = field(1000, help="Bootstrap resamples for confidence intervals (0: none).")
    seed: int = field(0, help="Bootstrap seed.")

    def __post_init__(self):
        self.runs = split_list(self.runs) or ["all"]
        self.glue = split_list(self.glue)
        if self.x not in ("flops_paper", "flops_corrected", "flops_kaplan"):
            raise ConfigError(f"--x must be flops_paper, flops_corrected or flops_kaplan, got {self.x!r}")
        if self.frontier not in ("auto", "bins", "none"):
            raise ConfigError(f"--frontier must be auto, bins or none, got {self.frontier!r}")
        if self.frontier_evals not in ("cadence", "all"):
            raise ConfigError(f"--frontier_evals must be cadence or all, got {self.frontier_evals!r}")
        if self.bins < 2:
            raise ConfigError(f"--bins must be at least 2, got {self.bins}")
        if self.bootstrap < 0 or self.min_segment_points < 2:
            raise ConfigError("--bootstrap must be >= 0 and --min_segment_points >= 2")
        self.break_at = str(self.break_at).strip().lower()
        if self.break_at not in ("auto", "none"):
            try:
                value = float(self.break_at)
            except ValueError:
                value = float("nan")
            if not value > 0 or value == float("inf"):
                raise ConfigError(f"--break_at must be 'auto', 'none' or a positive number, got {self.break_at!r}")
