"""``hf-shrunk demo``: the whole study in miniature on a CPU, from raw text to a publish-ready folder.

corpus (mirror -> Hub -> offline fallback) -> tokenizer (8,000 tokens) -> the demo grid (three sizes, both
families, ~10x in parameters) -> GLUE on every task the data source has (filtered and full, pretrained vs random
init) -> scaling fit and plots -> model and dataset cards -> ``publish --to_dir`` (exactly what would be pushed).
Every stage reuses finished work, so Ctrl-C and running the command again continues where it stopped.
"""

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import artifact_lock, artifact_root, output_dir, read_json, write_json
from hf_shrunk.config import CONFIG_DIR, ConfigError, field, parse_config, run_cli
from hf_shrunk.glue import GlueConfig
from hf_shrunk.lanes import Job, Lanes, lane_threads
from hf_shrunk.pretrain import perplexity
from hf_shrunk.scaling import FitConfig


@dataclasses.dataclass
class DemoConfig:
    root: str | None = field(None, help="Artifact root of the demo (default: $HF_SHRUNK_HOME/demo).")
    sources: list[str] = field(
        ["auto"], help="Corpus sources, as for `hf-shrunk corpus` (default: mirror, Hub, fallback)."
    )
    smoke: bool = field(False, help="A fast run through every stage with tiny budgets (CI).")
    steps: int | None = field(None, help="Pretraining updates per size (default: 1,000; smoke: 16).")
    glue_seeds: list[str] = field(["0"], help="GLUE fine-tuning seeds (the GLUE stage's own default is 0 1 2).")
    glue_train_samples: int | None = field(1000, help="Cap on GLUE training examples per task (smoke: 64).")
    glue_epochs: float = field(3.0, help="GLUE fine-tuning epochs (paper: 5 over the full training sets; smoke: 1).")
    glue_learning_rate: float = field(
        2e-4,
        help="GLUE learning rate (paper: 2e-4). Random-init twins barely move at it in ~100 updates; "
        "the demo shows that.",
    )
    glue_precision: str = field("bf16", help="GLUE fine-tuning precision: 'bf16' autocast or 'fp32' (paper).")
    lanes: int = field(
        2,
        help="On a CPU: run the pretraining runs and GLUE fine-tunes as processes, this many at once with cores/lanes "
        "threads each (on 2 cores two one-thread processes did 1.5x the work of one two-thread process); "
        "1: one stage after another in this process. A GPU always uses 1.",
    )
    org: str | None = field(
        None,
        help="Hub user or organisation for the cards' repo ids and --push (required with --push). Without it the "
        "local publish folder uses the placeholder 'your-org': replace it when you publish.",
    )
    vocab: str | None = field(
        None,
        help="Vocabulary (as for `hf-shrunk corpus --vocab`). Default: the paper's (mirror or pinned download); when "
        "it cannot be had offline the demo says so loudly and uses wordfreq:21000 instead.",
    )
    push: bool = field(False, help="Also publish to the Hub for real (needs a token with write access to --org).")
    token: str | None = field(None, help="Hub token for --push (default: HF_TOKEN or `hf auth login`).")
    overwrite: bool = field(False, help="Rebuild every stage instead of reusing finished ones.")


DEMO_VOCAB = 8_000
DEFAULT_STEPS, SMOKE_STEPS = 1000, 16


class Stages:
    """Numbered, timed stage banners."""

    def __init__(self, total: int):
        self.total, self.done, self.start, self.times = total, 0, time.perf_counter(), {}

    def run(self, title: str, fn: Callable[[], Any]) -> Any:
        self.done += 1
        began = time.perf_counter()
        print(f"\n=== [{self.done}/{self.total}] {title}  (t+{began - self.start:,.0f}s)", flush=True)
        result = fn()
        self.times[title] = time.perf_counter() - began
        return result


PLACEHOLDER_ORG = "your-org"  # written into local cards only; never pushed to or downloaded from


def demo_vocabulary(cfg: DemoConfig) -> str:
    """The vocabulary spec for the corpus: ``--vocab``, else the paper's; offline without a copy of it, the
    ``wordfreq`` list, announced loudly (a different word list, so the demo says so rather than hide it)."""
    from hf_shrunk.sources import OFFLINE_VOCAB, MissingDataError, resolve_vocab

    if cfg.vocab:
        return cfg.vocab
    try:
        resolve_vocab("auto")
    except MissingDataError as e:
        banner = "!" * 100
        print(f"{banner}\nThe paper's vocabulary is not available ({e}).")
        print(f"The demo continues with {OFFLINE_VOCAB}: NOT the paper's child-directed vocabulary.\n{banner}")
        return OFFLINE_VOCAB
    return "auto"


def _corpus_args(cfg: DemoConfig, root: str) -> list[str]:
    # Held-out splits: the corpus stage's auto sizes (5% each), which also suit the small offline fallback corpus.
    args = ["--root", root, "--name", "demo", "--sources", *cfg.sources, "--vocab", demo_vocabulary(cfg)]
    if cfg.smoke:
        args += ["--max_docs", "3000"]
    return args + (["--overwrite"] if cfg.overwrite else [])


def _pretrain_args(cfg: DemoConfig, root: str, slug: str, progress_bars: bool = True) -> list[str]:
    steps = cfg.steps or (SMOKE_STEPS if cfg.smoke else DEFAULT_STEPS)
    args = ["--root", root, "--grid", "demo", "--size", slug, "--corpus", "demo", "--tokenizer", "demo"]
    args += ["--config", str(CONFIG_DIR / "pretrain_demo.yaml"), "--max_steps", str(steps), "--resume"]
    args += ["--disable_tqdm", "false" if progress_bars else "true"]
    if cfg.smoke:
        args += ["--eval_steps", "8", "--save_steps", "8", "--eval_max_sequences", "64", "--snapshot_steps", "pow2:8"]
    return args + (["--overwrite"] if cfg.overwrite else [])


def _glue_config(cfg: DemoConfig, root: str, slug: str, overwrite: bool) -> GlueConfig:
    return GlueConfig(
        model=slug,
        root=root,
        name=slug,  # the demo names its GLUE folders, so --overwrite with lanes clears the ones the workers fill
        tasks=["all"],
        seeds=["0"] if cfg.smoke else cfg.glue_seeds,
        condition="both",
        baseline="random-init",
        max_train_samples=64 if cfg.smoke else cfg.glue_train_samples,
        max_eval_samples=64 if cfg.smoke else None,
        num_epochs=1.0 if cfg.smoke else cfg.glue_epochs,
        learning_rate=cfg.glue_learning_rate,
        precision=cfg.glue_precision,
        overwrite=overwrite,
    )


def _glue(cfg: DemoConfig, root: str, slug: str, scored_in_lanes: bool) -> dict[str, Any] | None:
    from hf_shrunk.glue import run_glue

    # after the lanes every result is stored (--overwrite cleared them first): this reads them back and summarises
    summary = run_glue(_glue_config(cfg, root, slug, overwrite=cfg.overwrite and not scored_in_lanes))
    if not summary["variants"]:
        print("GLUE skipped: " + "; ".join(summary["notes"]))
        return None
    return summary


def _lane_jobs(cfg: DemoConfig, root: Path, slugs: list[str], lanes: int) -> list[Job]:
    """The demo's pretraining runs (costliest first) and GLUE workers (cheapest size first) as lane jobs."""
    from hf_shrunk.glue import trainable_tasks, worker_job
    from hf_shrunk.models import flops_per_sequence, load_grid
    from hf_shrunk.pretrain import with_allocator

    grid = load_grid("demo")
    cost = {s.slug: flops_per_sequence(s, grid.vocab_size, 128)["paper"] for s in grid.sizes}
    threads = lane_threads(lanes)
    env = with_allocator({**os.environ, "OMP_NUM_THREADS": str(threads)})
    argv = [sys.executable, "-m", "hf_shrunk.pretrain", "--num_threads", str(threads)]
    jobs = [
        Job(
            f"pretrain {slug}",
            lambda slug=slug: ([*argv, *_pretrain_args(cfg, str(root), slug, False)], env),
            show_last_line=True,  # "done: ..." or "... already trained"
        )
        for slug in sorted(slugs, key=cost.get, reverse=True)
    ]
    if trainable_tasks(None):  # else the GLUE stages below say that there is no GLUE data

        def glue_worker(slug: str) -> tuple[list[str], dict[str, str]]:
            return worker_job(_glue_config(cfg, str(root), slug, False), root / "logs" / f"glue-{slug}.yaml")

        jobs += [
            Job(f"GLUE {slug}", lambda slug=slug: glue_worker(slug), after=(f"pretrain {slug}",), shared=True)
            for slug in sorted(slugs, key=cost.get)
        ]
    return jobs


def _clear_glue_results(root: Path, slugs: list[str]) -> None:
    """--overwrite with lanes: GLUE workers never clear results (several share a folder), so clear them first."""
    for slug in slugs:
        with artifact_lock(output_dir("glue", slug, root), overwrite=True):
            pass


def _fit(root: str) -> dict[str, Any] | None:
    from hf_shrunk.scaling import run_fit, summary_lines

    fit = run_fit(FitConfig(root=root, name="default", runs=["all"], bootstrap=200, overwrite=True))
    print("\n".join(summary_lines(fit)))
    return fit


def _publish(cfg: DemoConfig, root: str, out: Path, allow_missing: bool, push: bool) -> None:
    from hf_shrunk.publish import main as publish_main

    args = [
        "--root",
        root,
        "--org",
        cfg.org or PLACEHOLDER_ORG,
        "--dataset",
        "--corpus",
        "demo",
        "--tokenizer",
        "demo",
        "--fit",
        "default",
    ]
    args += ["--allow_missing_results"] if allow_missing else []
    if push:
        publish_main(args + (["--token", cfg.token] if cfg.token else []))
    else:
        publish_main(args + ["--to_dir", str(out)])


def _fmt(value: float | None, digits: int = 1, scale: float = 100.0) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


def summary_table(root: Path, slugs: list[str], glue: dict[str, dict | None]) -> list[str]:
    """Size, parameters, tokens, FLOPs, dev loss/perplexity; GLUE per task and aggregate vs random init."""
    lines = [f"{'size':<32} {'params':>10} {'tokens':>11} {'FLOPs':>9} {'dev loss':>8} {'ppl':>7}"]
    for slug in slugs:
        m = read_json(root / "pretrain" / slug / "metrics.json")
        final, held = m["final"], m.get(m.get("model_checkpoint", "final")) or m["final"]  # dev loss: what GLUE scored
        lines.append(
            f"{slug:<32} {m['params']['total']:>10,} {final['tokens']:>11,} {final['flops_paper']:>9.2e} "
            f"{held['eval_loss']:>8.3f} {perplexity(held['eval_loss']):>7.1f}"
        )
    tasks = sorted(
        {t for s in glue.values() if s for v in s["variants"].values() for c in v.values() for t in c["tasks"]}
    )
    if not tasks:
        return lines + ["", "GLUE: no data source had GLUE (see the note above); nothing to compare."]
    lines += ["", "GLUE (x100, mean over seeds): pretrained / random init, per condition"]
    header = f"{'size':<32} {'condition':<9} " + " ".join(f"{t:>11}" for t in tasks) + f" {'GLUE':>11} {'gain':>6}"
    lines.append(header)
    for slug in slugs:
        summary = glue.get(slug)
        if not summary:
            continue
        for condition in ("filtered", "full"):
            pre = summary["variants"].get("pretrained", {}).get(condition)
            rnd = summary["variants"].get("random-init", {}).get(condition)
            if not pre:
                continue
            cells = []
            for t in tasks:
                a = pre["tasks"].get(t, {}).get("score", {}).get("mean")
                b = (rnd or {}).get("tasks", {}).get(t, {}).get("score", {}).get("mean")
                cells.append(f"{_fmt(a)}/{_fmt(b)}".rjust(11))
            agg_a, agg_b = pre["aggregate"]["mean"], (rnd or {}).get("aggregate", {}).get("mean")
            gain = "-" if agg_b is None else f"{(agg_a - agg_b) * 100:+.1f}"
            lines.append(
                f"{slug:<32} {condition:<9} "
                + " ".join(cells)
                + f" {_fmt(agg_a)}/{_fmt(agg_b)}".rjust(12)
                + f" {gain:>6}"
            )
    return lines


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """``hf-shrunk demo``: run every stage on the demo grid, then print (and save) the summary table.

    Args:
        argv (`Sequence[str]`, *optional*): command-line arguments (default: ``sys.argv[1:]``).
        prog (`str`, *optional*): the program name shown in ``--help``.

    Returns:
        `int`: the exit code, 0.
    """
    (cfg,) = parse_config(
        [DemoConfig],
        argv,
        prog=prog,
        description="The whole study in minutes on a CPU: corpus -> tokenizer -> three model sizes -> GLUE vs random "
        "init -> scaling fit -> cards -> a folder with exactly what `hf-shrunk publish` would push. Re-running "
        "continues where it stopped.",
    )
    if cfg.push and not cfg.org:
        raise ConfigError("--push needs --org ORG: the Hub user or organisation to publish under")
    from hf_shrunk.corpus import main as corpus_main
    from hf_shrunk.models import load_grid
    from hf_shrunk.pretrain import gpu_count
    from hf_shrunk.pretrain import train_main as pretrain_main
    from hf_shrunk.tokenizer import main as tokenizer_main

    root = Path(cfg.root).expanduser() if cfg.root else artifact_root() / "demo"
    slugs = [size.slug for size in load_grid("demo").sizes]
    lanes = 1 if gpu_count() else cfg.lanes
    stages = Stages(5 + len(slugs) + (1 if lanes > 1 else len(slugs)))
    print(f"hf-shrunk demo: artifacts in {root}{' (smoke run)' if cfg.smoke else ''}")
    stages.run("corpus", lambda: corpus_main(_corpus_args(cfg, str(root))))
    tok_args = ["--root", str(root), "--name", "demo", "--corpus", "demo", "--vocab_size", str(DEMO_VOCAB)]
    stages.run("tokenizer", lambda: tokenizer_main(tok_args + (["--overwrite"] if cfg.overwrite else [])))
    if lanes > 1:
        if cfg.overwrite:
            _clear_glue_results(root, slugs)
        jobs = _lane_jobs(cfg, root, slugs, lanes)
        seconds = stages.run(f"pretrain + GLUE fine-tunes, {lanes} at once", Lanes(jobs, lanes, root / "logs").run)
        stages.times |= {f"  {name}": value for name, value in seconds.items()}
    else:
        for slug in slugs:
            stages.run(f"pretrain {slug}", lambda slug=slug: pretrain_main(_pretrain_args(cfg, str(root), slug)))
    glue = _glue_stages(cfg, root, slugs, stages, scored_in_lanes=lanes > 1)
    fit = stages.run("scaling fit", lambda: _fit(str(root)))
    out = root / "publish"
    has_glue = any(glue.values())
    stages.run("cards + publish folder", lambda: _publish(cfg, str(root), out, not has_glue, push=False))
    if cfg.push:
        stages.run(f"push to the Hub ({cfg.org})", lambda: _publish(cfg, str(root), out, not has_glue, push=True))
    else:
        stages.done += 1
    _report(cfg, root, out, slugs, glue, fit, stages)
    return 0


def _glue_stages(
    cfg: DemoConfig, root: Path, slugs: list[str], stages: Stages, scored_in_lanes: bool
) -> dict[str, Any]:
    """Run the GLUE stage of every size: ``{slug: summary or None}`` (all None when there is no GLUE source)."""
    from hf_shrunk.sources import MissingDataError

    glue: dict[str, Any] = {}
    for slug in slugs:
        try:
            title = f"GLUE {slug}{' summary' if scored_in_lanes else ''}"
            glue[slug] = stages.run(title, lambda slug=slug: _glue(cfg, str(root), slug, scored_in_lanes))
        except MissingDataError as e:  # no GLUE source at all: the same for every size, so say it once
            print(f"GLUE skipped: {e}")
            glue = dict.fromkeys(slugs)
            stages.done += len(slugs) - slugs.index(slug) - 1  # keep the stage numbers of what follows
            break
    return glue


def _report(
    cfg: DemoConfig, root: Path, out: Path, slugs: list[str], glue: dict[str, Any], fit: Any, stages: Stages
) -> None:
    """Print the summary table, plots, publish folder and wall time, and save them to ``demo_summary.json``."""
    lines = summary_table(root, slugs, glue)
    total = time.perf_counter() - stages.start
    fit_dir = root / "fit" / "default"
    lines += [
        "",
        f"plots: {fit_dir / 'loss_vs_compute.png'}"
        + (f", {fit_dir / 'glue_vs_perplexity.png'}" if (fit_dir / "glue_vs_perplexity.png").exists() else ""),
    ]
    lines += [
        f"publish folder: {out} (exactly what `hf-shrunk publish --org {cfg.org or PLACEHOLDER_ORG}` would push)",
        f"wall time: {total / 60:.1f} min",
    ]
    write_json(
        root / "demo_summary.json",
        {
            "stage_seconds": stages.times,
            "wall_seconds": total,
            "fit": fit and fit.get("fits", {}).keys() and list(fit["fits"]),
            "table": lines,
        },
    )
    print("\n" + "\n".join(lines), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    run_cli(main, "demo")
