"""`hf-shrunk fit` (hf_shrunk.scaling.run): power-law maths on synthetic data with known answers, the frontier, CSV
aliases, degenerate inputs, the correlation, and the whole stage on synthetic pretrain/GLUE folders."""

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import subprocess_env

from hf_shrunk.artifacts import Manifest, write_json
from hf_shrunk.config import UserError
from hf_shrunk.scaling.run import (
    FitError,
    collect_points,
    compute_frontier,
    correlate,
    fit_broken_power_law,
    fit_power_law,
    frontier_indices,
    load_fit,
    main,
    position_on_fit,
    predict_loss,
    read_points_csv,
    run_fit,
)

X = np.geomspace(1e14, 1e17, 30)
LOG_BIN = (17 - 14) / 30  # one log10 bin of 30 over the x range


def two_segment(x, brk=2.2e15, a2=382.0, b1=-0.093, b2=-0.141):
    """A continuous broken power law: slope b1 below ``brk``, b2 above (a1 chosen so the curve is continuous)."""
    a1 = a2 * brk ** (b2 - b1)
    return np.where(x < brk, a1 * x**b1, a2 * x**b2), a1


# ------------------------------------------------------------------------------------------- power laws


@pytest.mark.parametrize("space", ["linear", "log"])
def test_power_law_exact_recovery(space):
    y = 382.0 * X**-0.141
    fit = fit_power_law(X, y, space=space)
    assert fit.a == pytest.approx(382.0, rel=1e-6)
    assert fit.b == pytest.approx(-0.141, abs=1e-8)
    assert fit.r2 == pytest.approx(1.0, abs=1e-9)
    assert fit.predict(1e16) == pytest.approx(382.0 * 1e16**-0.141, rel=1e-6)


@pytest.mark.parametrize("space", ["linear", "log"])
def test_power_law_with_noise_true_values_inside_ci(space):
    rng = np.random.default_rng(1)
    y = 382.0 * X**-0.141 * np.exp(rng.normal(0, 0.01, X.size))
    fit = fit_power_law(X, y, space=space, bootstrap=300, seed=0)
    assert fit.ci["b"][0] <= -0.141 <= fit.ci["b"][1]
    assert fit.ci["a"][0] <= 382.0 <= fit.ci["a"][1]
    assert fit.b == pytest.approx(-0.141, abs=0.01)
    assert fit.ci["b"][1] - fit.ci["b"][0] < 0.03  # 1% noise on 30 points: a tight interval
    assert fit.bootstrap == {"resamples": 300, "used": 300, "seed": 0}


def test_linear_space_differs_from_log_space_on_noisy_data():
    """The two estimators minimise different errors, so on noisy data they must not coincide."""
    rng = np.random.default_rng(2)
    y = 50.0 * X**-0.1 + rng.normal(0, 0.05, X.size)
    lin, log = fit_power_law(X, y, "linear"), fit_power_law(X, y, "log")
    assert lin.b != log.b
    assert lin.sse <= np.sum((y - log.a * X**log.b) ** 2) + 1e-12  # linear space has the least SSE on y


def test_broken_power_law_exact_recovery_auto_break():
    y, a1 = two_segment(X)
    fit = fit_broken_power_law(X, y)
    assert fit.break_method == "auto"
    lo, hi = fit.break_bracket
    assert lo < 2.2e15 <= hi  # the split falls between the two points around the true break
    assert abs(math.log10(fit.break_value) - math.log10(2.2e15)) <= LOG_BIN
    assert fit.below.b == pytest.approx(-0.093, abs=1e-7)
    assert fit.above.b == pytest.approx(-0.141, abs=1e-7)
    assert fit.below.a == pytest.approx(a1, rel=1e-5)
    assert fit.above.a == pytest.approx(382.0, rel=1e-5)
    assert fit.below.n_points + fit.above.n_points == X.size
    assert fit.r2 == pytest.approx(1.0, abs=1e-9)


def test_broken_power_law_fixed_break():
    y, a1 = two_segment(X)
    fit = fit_broken_power_law(X, y, break_at=2.2e15)
    assert fit.break_method == "fixed" and fit.break_value == 2.2e15
    assert fit.below.n_points == int(np.sum(X < 2.2e15))
    assert (fit.below.a, fit.below.b) == pytest.approx((a1, -0.093), rel=1e-5)
    assert (fit.above.a, fit.above.b) == pytest.approx((382.0, -0.141), rel=1e-5)
    assert fit.predict(1e15) == pytest.approx(a1 * 1e15**-0.093, rel=1e-5)
    assert fit.predict(1e16) == pytest.approx(382.0 * 1e16**-0.141, rel=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_break_search_with_noise_within_one_bin(seed):
    rng = np.random.default_rng(seed)
    y, _ = two_segment(X, b1=-0.02, b2=-0.2)
    y = y * np.exp(rng.normal(0, 0.003, X.size))
    fit = fit_broken_power_law(X, y, bootstrap=100, seed=seed)
    assert abs(math.log10(fit.break_value) - math.log10(2.2e15)) <= LOG_BIN + 1e-9
    assert fit.above.b == pytest.approx(-0.2, abs=0.02)
    assert fit.above.ci["b"][0] <= -0.2 <= fit.above.ci["b"][1]
    assert fit.break_ci[0] <= fit.break_value <= fit.break_ci[1]
    lo, hi = fit.break_near_optimal
    assert lo <= fit.break_value <= hi


def test_broken_power_law_errors():
    y, _ = two_segment(X)
    with pytest.raises(FitError, match="cannot search a break"):
        fit_broken_power_law(X[:5], y[:5])
    with pytest.raises(FitError, match="1e\\+14|leaves 0 points below"):
        fit_broken_power_law(X, y, break_at=1e13)


# ------------------------------------------------------------------------------------------------- frontier


def test_frontier_hand_made():
    x = [1.0, 1.5, 10.0, 12.0, 100.0, 1000.0]
    y = [5.0, 4.0, 3.0, 3.5, 2.0, 1.0]
    # 3 bins with edges 1, 10, 100, 1000: {1, 1.5} {10, 12} {100, 1000} -> lowest loss of each.
    idx, bins = frontier_indices(x, y, bins=3)
    assert [x[i] for i in idx] == [1.5, 10.0, 1000.0]
    assert bins.tolist() == [0, 1, 2]
    # 6 bins (half decades): bins 1 and 3 are empty and skipped.
    idx, bins = frontier_indices(x, y, bins=6)
    assert [x[i] for i in idx] == [1.5, 10.0, 100.0, 1000.0]
    assert bins.tolist() == [0, 2, 4, 5]
    points = [{"run": f"r{i}", "flops_paper": a, "loss": b} for i, (a, b) in enumerate(zip(x, y, strict=True))]
    front = compute_frontier(points, bins=3)
    assert [p["run"] for p in front] == ["r1", "r2", "r5"]
    assert [p["frontier_bin"] for p in front] == [0, 1, 2]


def test_frontier_tie_keeps_less_compute():
    idx, _ = frontier_indices([1.0, 2.0, 100.0], [3.0, 3.0, 1.0], bins=2)
    assert idx.tolist() == [0, 2]


def test_frontier_all_points_in_one_bin():
    with pytest.raises(FitError, match="one compute bin"):
        frontier_indices([5e15, 5e15, 5e15], [3.0, 2.0, 1.0])


# -------------------------------------------------------------------------------------------------- CSV input

PAPER_HEADER = (
    ",Unnamed: 0,eval/loss,eval/step,eval/updates,Total parameters,Non-embedding parameters,run_name,"
    "FLOPS Hoffman total,FLOPS Kaplan total,Tokens,FLOP bins"
)


def write_csv(path, header, rows):
    path.write_text(header + "\n" + "\n".join(",".join(str(v) for v in row) for row in rows) + "\n")
    return path


def test_csv_paper_headers(tmp_path):
    rows = [
        [0, 0, 4.0, 2000, 1000, 1957442.0, 732226.0, "prime-smoke-1", 3.8e14, 1.4e14, 32768000, 10],
        [1, 1, 3.2, 4000, 2000, 1267586.0, 654978.0, "devoted-capybara-3", 4.9e14, 2.5e14, 65536000, 11],
        [2, 2, 2.1, 8000, 4000, 13078082.0, 8177218.0, "apricot-meadow-20", 1.0e16, 6.4e15, 131072000, 29],
    ]
    data = read_points_csv(write_csv(tmp_path / "paper.csv", PAPER_HEADER, rows))
    first = data.points[0]
    assert first["run"] == "prime-smoke-1" and first["step"] == 2000  # eval/step wins over eval/updates
    assert first["loss"] == 4.0 and first["flops_paper"] == 3.8e14 and first["flops_kaplan"] == 1.4e14
    assert first["params"] == 1957442 and first["non_embedding_params"] == 732226 and first["tokens"] == 32768000
    assert data.is_frontier  # one point per 'FLOP bins' value
    kaplan = read_points_csv(tmp_path / "paper.csv", x="flops_kaplan")
    assert kaplan.points[2]["flops_kaplan"] == 6.4e15


def test_csv_plain_headers_generic_flops_and_blank_rows(tmp_path):
    header = "Run,STEP,Params,Non-Embedding-Params,tokens,FLOPs,Loss"
    rows = [["a", 1, 10, 5, 100, 1e12, 3.0], ["a", 2, 10, 5, 200, 2e12, ""], ["b", 1, 20, 9, 100, 3e12, 2.5]]
    data = read_points_csv(write_csv(tmp_path / "plain.csv", header, rows), x="flops_corrected")
    assert [p["flops_corrected"] for p in data.points] == [1e12, 3e12]  # plain 'FLOPs' is read as the --x axis
    assert [p["non_embedding_params"] for p in data.points] == [5, 9]
    assert not data.is_frontier and any("1 row(s)" in n for n in data.notes)


def test_csv_missing_columns_list_what_was_found(tmp_path):
    with pytest.raises(UserError, match="no loss column.*'run'.*'flops'"):
        read_points_csv(write_csv(tmp_path / "a.csv", "run,flops,perplexity", [["a", 1e12, 20.0]]))
    with pytest.raises(UserError, match="no FLOPs column.*'run', 'loss'"):
        read_points_csv(write_csv(tmp_path / "b.csv", "run,loss", [["a", 3.0]]))
    with pytest.raises(UserError, match="pass --x flops_paper"):
        read_points_csv(write_csv(tmp_path / "c.csv", "run,loss,flops_paper", [["a", 3.0, 1e12]]), x="flops_corrected")


# ------------------------------------------------------------------------------------------ degenerate inputs


def fit_csv(tmp_path, rows, header="run,step,flops,loss", **flags):
    argv = ["--root", str(tmp_path / "root"), "--points_csv", str(write_csv(tmp_path / "p.csv", header, rows))]
    argv += ["--bootstrap", "0", *[f"--{k}={v}" for k, v in flags.items()]]
    return main(argv)


def test_error_fewer_than_three_points(tmp_path):
    with pytest.raises(UserError, match=r"only 2 point\(s\).*p\.csv"):
        fit_csv(tmp_path, [["a", 1, 1e12, 3.0], ["a", 2, 2e12, 2.9]])


@pytest.mark.parametrize("bad", [("0", "3.0"), ("-1e12", "3.0"), ("1e12", "0"), ("1e12", "-2"), ("1e12", "nan")])
def test_error_non_positive_values_name_the_row(tmp_path, bad):
    rows = [["a", 1, 1e12, 3.0], ["b", 2, bad[0], bad[1]], ["c", 3, 3e12, 2.0]]
    with pytest.raises(UserError, match=r"p\.csv line 3.*must be a positive number \(run 'b'\)"):
        fit_csv(tmp_path, rows)


def test_error_all_points_in_one_bin(tmp_path):
    with pytest.raises(UserError, match="all 3 points fall in one compute bin"):
        fit_csv(tmp_path, [["a", 1, 1e12, 3.0], ["b", 1, 1e12, 2.9], ["c", 1, 1e12, 2.8]])


def test_error_no_runs_found(tmp_path):
    with pytest.raises(UserError, match=r"no pretrain runs found in .*empty.*pretrain.*hf-shrunk pretrain"):
        main(["--root", str(tmp_path / "empty")])


def test_error_bad_run_values_name_the_run(tmp_path):
    root = tmp_path / "root"
    make_run(root, "bad", 1e6, evals=[(1000, 1e14, 3.0), (2000, 2e14, 0.0)])
    with pytest.raises(UserError, match=r"bad.*metrics\.json \(eval at step 2000\): loss = 0\.0"):
        main(["--root", str(root)])


# ------------------------------------------------------------------------------------------------ correlation


def test_correlate_monotone_relations():
    ppl = [5.0, 7.0, 9.0, 15.0, 22.0]
    up = correlate(ppl, [0.1, 0.2, 0.5, 0.55, 0.9])
    down = correlate(ppl, [0.9, 0.7, 0.69, 0.5, 0.49])
    assert up["spearman"]["rho"] == pytest.approx(1.0) and down["spearman"]["rho"] == pytest.approx(-1.0)
    assert up["pearson"]["r"] == pytest.approx(np.corrcoef(ppl, [0.1, 0.2, 0.5, 0.55, 0.9])[0, 1])
    assert 0 <= up["pearson"]["p"] <= 1
    # Exact p of a perfect ranking: 2 of the 5! orderings reach |rho| = 1 (scipy's t approximation says 0).
    assert up["spearman"]["p"] == pytest.approx(2 / 120) and up["spearman"]["p_method"] == "exact permutation"
    assert "skipped" in correlate([1.0, 2.0], [3.0, 4.0]) and "skipped" in correlate([1, 2, 3], [5, 5, 5])


# --------------------------------------------------------------------------------------------- whole stage


def make_run(root, name, n_params, evals=None, family="factorized", eval_steps=500):
    """A finished pretrain folder; ``evals`` = [(step, flops_paper, loss)], default a Chinchilla-like curve."""
    folder = root / "pretrain" / name
    folder.mkdir(parents=True)
    per_seq = 6 * n_params * 128 * 1.5
    if evals is None:
        steps = [500, 1000, 2000, 4000, 8000, 16000]
        loss = [1.2 + 400 / n_params**0.35 + 60 / (s * 256 * 128) ** 0.2 for s in steps]
        evals = [(s, per_seq * s * 256, v) for s, v in zip(steps, loss, strict=True)]
    history = [
        {"step": s, "sequences": s * 256, "tokens": s * 256 * 110, "token_positions": s * 256 * 128,
         "flops_paper": f, "flops_corrected": f * 1.1, "eval_loss": v, "perplexity": math.exp(v) if v > 0 else 0}
        for s, f, v in evals
    ]  # fmt: skip
    metrics = {
        "run": name,
        "family": family,
        "params": {"total": int(n_params * 1.5), "embedding": int(n_params * 0.5), "non_embedding": int(n_params)},
        "flops_per_sequence": {"paper": per_seq, "corrected": per_seq * 1.1},
        "eval_history": history,
        "eval_steps": eval_steps,
        "final": {"step": evals[-1][0], "eval_loss": min(v for _, _, v in evals)},
    }
    write_json(folder / "metrics.json", metrics)
    Manifest("pretrain", name, {"size": name}).write(folder)
    return folder


def make_glue(root, name, run, perplexity, filtered, full):
    aggregate = {"filtered": {"aggregate": {"mean": filtered}}, "full": {"aggregate": {"mean": full}}}
    summary = {
        "model": name,
        "run": run,
        "revision": None,
        "perplexity": perplexity,
        "variants": {"pretrained": aggregate},
    }
    write_json(root / "glue" / name / "summary.json", summary)


SIZES = {"tiny": 6e5, "small": 1.5e6, "base": 4e6, "mid": 1e7, "large": 2.5e7}


@pytest.fixture()
def study(tmp_path):
    root = tmp_path / "root"
    for name, n in SIZES.items():
        make_run(root, name, n)
    # GLUE improves as perplexity falls (monotone): Spearman must be exactly -1 for both conditions.
    for i, (ppl, run) in enumerate([(30.0, "tiny"), (20.0, "small"), (12.0, "base"), (8.0, None)]):
        make_glue(root, f"model-{i}", run, ppl, 0.55 + 0.05 * i, 0.50 + 0.04 * i)
    return root


def test_end_to_end_on_pretrain_folders(study, capsys):
    assert main(["--root", str(study), "--bootstrap", "40"]) == 0
    out = capsys.readouterr().out
    assert "L(C) linear-space" in out and "Spearman ρ = -1.000" in out
    folder = study / "fit" / "default"
    fit = json.loads((folder / "fit.json").read_text())
    assert fit["x"] == "flops_paper" and fit["data"]["n_points"] == 30 and fit["data"]["n_runs"] == 5
    assert {"compute_linear", "compute_log", "compute_broken", "params", "tokens"} <= set(fit["fits"])
    single = fit["fits"]["compute_linear"]
    assert single["params"]["b"] < 0 and 0.8 < single["r2"] <= 1 and single["ci"]["b"][0] < single["ci"]["b"][1]
    broken = fit["fits"]["compute_broken"]
    assert broken["break"]["method"] == "auto" and broken["break"]["ci"] and broken["break"]["bracket"]
    assert fit["fits"]["params"]["n_points"] == 5 and fit["fits"]["params"]["x"] == "non_embedding_params"
    for condition in ("filtered", "full"):
        stats = fit["correlation"]["conditions"][condition]
        assert stats["n"] == 4 and stats["spearman"]["rho"] == pytest.approx(-1.0)
    with (folder / "points.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 30 and {r["run"] for r in rows} == set(SIZES)
    with (folder / "frontier.csv").open() as f:
        frontier = list(csv.DictReader(f))
    assert len(frontier) == fit["data"]["frontier"]["n_points"] <= 30
    losses = [float(r["loss"]) for r in rows]
    assert min(float(r["loss"]) for r in frontier) == min(losses)  # the best point is always on the frontier
    for stem in ("loss_vs_compute", "glue_vs_perplexity"):
        assert (folder / f"{stem}.png").stat().st_size > 20_000
        assert (folder / f"{stem}.svg").read_text().count("<path") > 20
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {i["kind"] for i in manifest["inputs"]} == {"pretrain", "glue"} and len(manifest["inputs"]) == 9


def test_the_frontier_leaves_out_snapshot_evaluations(tmp_path, capsys):
    """Paper §8: the frontier is built from the evaluations every N updates (and the last step). A run that also
    evaluated at its pow2 snapshot steps 1, 2, 4 ... 512 must not feed those warm-up points into the bins."""
    root = tmp_path / "root"
    for name, n in SIZES.items():
        per_seq = 6 * n * 128 * 1.5
        steps = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, *range(1000, 8001, 1000), 8200]
        loss = [1.2 + 400 / n**0.35 + 60 / (s * 256 * 128) ** 0.2 for s in steps]
        make_run(root, name, n, [(s, per_seq * s * 256, v) for s, v in zip(steps, loss, strict=True)], eval_steps=None)
    assert main(["--root", str(root), "--bootstrap", "0", "--name", "cadence"]) == 0
    with (root / "fit" / "cadence" / "frontier.csv").open() as f:
        frontier = list(csv.DictReader(f))
    assert frontier and min(int(r["step"]) for r in frontier) >= 1000  # nothing from the snapshot evaluations
    assert {r["evaluation"] for r in frontier} == {"cadence"}
    with (root / "fit" / "cadence" / "points.csv").open() as f:
        assert {int(r["step"]) for r in csv.DictReader(f)} >= {1, 512, 8200}  # the loss curves keep every evaluation
    assert main(["--root", str(root), "--bootstrap", "0", "--name", "all", "--frontier_evals", "all"]) == 0
    with (root / "fit" / "all" / "frontier.csv").open() as f:
        assert min(int(r["step"]) for r in csv.DictReader(f)) < 1000


def test_evaluation_cadence_is_recorded_or_inferred():
    from hf_shrunk.scaling.points import evaluation_cadence

    history = [{"step": s} for s in (1, 2, 4, 8, 16, 32, 64, 100, 128, 200, 256, 300, 400, 500, 512, 600, 700, 800)]
    assert evaluation_cadence({"eval_history": history}) == 100
    assert evaluation_cadence({"eval_history": history, "eval_steps": 200}) == 200
    assert evaluation_cadence({"eval_history": [{"step": 1}, {"step": 2}, {"step": 4}, {"step": 8}]}) is None


def test_rerun_is_skipped_then_overwritten(study, capsys):
    argv = ["--root", str(study), "--bootstrap", "0", "--glue", "none-such-model"]
    with pytest.raises(UserError, match="none-such-model"):
        main(argv)
    argv = ["--root", str(study), "--bootstrap", "0", "--break_at", "none"]
    main(argv)
    fit_file = study / "fit" / "default" / "fit.json"
    stamp = fit_file.stat().st_mtime_ns
    capsys.readouterr()
    main(argv)
    assert "up to date" in capsys.readouterr().out and fit_file.stat().st_mtime_ns == stamp
    main([*argv, "--overwrite"])
    assert fit_file.stat().st_mtime_ns != stamp
    assert "compute_broken" in json.loads(fit_file.read_text())["skipped"]


def test_glue_correlation_skipped_with_two_models(tmp_path):
    root = tmp_path / "root"
    for name, n in SIZES.items():
        make_run(root, name, n)
    make_glue(root, "m0", "tiny", None, 0.6, 0.5)  # perplexity from the run's metrics.json
    make_glue(root, "m1", "small", 12.0, 0.7, 0.6)
    from hf_shrunk.scaling import FitConfig

    fit = run_fit(FitConfig(root=str(root), bootstrap=0, break_at="none"))
    assert "needs at least 3 models, got 2" in fit["correlation"]["conditions"]["filtered"]["skipped"]
    assert (root / "fit" / "default" / "glue_vs_perplexity.png").is_file()


def test_predict_and_position_on_fit(study):
    from hf_shrunk.scaling import FitConfig

    run_fit(FitConfig(root=str(study), bootstrap=0, break_at="3e15"))
    fit = load_fit("default", root=study)
    seg = fit["fits"]["compute_broken"]["segments"]
    below, above = seg["below"]["params"], seg["above"]["params"]
    assert predict_loss(fit, 1e15) == pytest.approx(below["a"] * 1e15 ** below["b"])
    assert predict_loss(study / "fit" / "default", 1e16) == pytest.approx(above["a"] * 1e16 ** above["b"])
    single = fit["fits"]["compute_linear"]["params"]
    assert predict_loss(fit, 1e16, which="compute_linear") == pytest.approx(single["a"] * 1e16 ** single["b"])
    where = position_on_fit(fit, 1e16, 2.0)
    assert where["segment"] == "above" and where["ratio"] == pytest.approx(2.0 / where["predicted_loss"])
    with pytest.raises(KeyError, match="available"):
        predict_loss(fit, 1e16, which="nope")


def test_selected_runs_and_csv_without_run_column(study, tmp_path):
    data = collect_points(["tiny", "base", str(study / "pretrain" / "mid")], root=study)
    assert {p["run"] for p in data.points} == {"tiny", "base", "mid"}
    rows = [[f"{1e12 * 3**i}", f"{4.0 - 0.3 * i}", f"{1e6 * (i + 1)}"] for i in range(6)]
    csv_path = write_csv(tmp_path / "norun.csv", "flops,loss,non_embedding_params", rows)
    from hf_shrunk.scaling import FitConfig

    cfg = FitConfig(
        root=str(tmp_path / "r2"), points_csv=str(csv_path), runs=["tiny"], glue=["none"], bootstrap=0, break_at="none"
    )
    fit = run_fit(cfg)
    assert "no run column" in fit["skipped"]["params"] and fit["data"]["frontier"]["mode"] == "bins"
    assert any("--runs tiny ignored" in note for note in fit["data"]["notes"])
    assert fit["correlation"]["skipped"] == "no GLUE summaries (--glue none)"


def test_help_is_cheap():
    # argv[0] = hf-shrunk: the package skips its own torch import for the console script (hf_shrunk/__init__.py).
    code = (
        "import sys; sys.argv = ['hf-shrunk']; import hf_shrunk.scaling.run; "
        "heavy = [m for m in ('torch', 'scipy', 'matplotlib') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env(), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    out = subprocess.run(
        [sys.executable, "-m", "hf_shrunk", "fit", "--help"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "--break_at" in out.stdout and "--frontier" in out.stdout
