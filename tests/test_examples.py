"""Every script in examples/ runs, by default against the demo's publish folder, as a user would run it.

The "demo" here is a miniature one built once per module: a synthetic corpus, a 300-token tokenizer, two tiny
pretrain runs (one per family, 8 updates) and `hf-shrunk publish --to_dir $HF_SHRUNK_HOME/demo/publish`, the folder
`hf-shrunk demo` leaves. The examples run as subprocesses with only HF_SHRUNK_HOME pointing there.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEST_GRID, make_glue_dir, make_training_root, subprocess_env

from hf_shrunk.config import CONFIG_DIR

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FACTORIZED = "factorized-e32-h32-i128-a4-l2"
ROBERTA = "roberta-h32-i64-a2-l1"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """An HF_SHRUNK_HOME whose demo/ holds finished runs and demo/publish the publish folder."""
    from hf_shrunk.pretrain import train_main as pretrain_main
    from hf_shrunk.publish import main as publish_main

    home = tmp_path_factory.mktemp("home")
    root = home / "demo"
    make_training_root(root, n_train=300)
    common = ["--root", str(root), "--config", str(CONFIG_DIR / "pretrain_demo.yaml"), "--max_steps", "8"]
    # evaluating every 2 updates gives the scaling fit of plot_scaling.py enough points
    common += ["--eval_steps", "2", "--save_steps", "4", "--eval_max_sequences", "32", "--report_to", "none"]
    for slug in (FACTORIZED, ROBERTA):
        assert pretrain_main(common + ["--grid", str(TEST_GRID), "--size", slug]) == 0
    publish = ["--root", str(root), "--org", "example-org", "--allow_missing_results"]
    assert publish_main(publish + ["--to_dir", str(root / "publish")]) == 0
    make_glue_dir(home / "glue")
    return home


def run_example(name: str, *args: str, home: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True, text=True, timeout=600, cwd=home, stdin=subprocess.DEVNULL,
        env=subprocess_env(HF_SHRUNK_HOME=str(home), HF_SHRUNK_DATA_DIR=""),
    )  # fmt: skip
    assert proc.returncode == 0, f"{name} {' '.join(args)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_fill_mask_defaults_to_the_demo_publish_folder(home):
    proc = run_example("fill_mask.py", "--top_k", "2", home=home)
    assert f"models/shrunk-{ROBERTA}/main" in proc.stdout and proc.stdout.count("  -> ") == 3


def test_fill_mask_takes_a_folder(home):
    folder = home / "demo" / "publish" / "models" / f"shrunk-{FACTORIZED}" / "main"
    proc = run_example("fill_mask.py", str(folder), home=home)
    assert proc.stdout.count("  -> ") == 3


def test_finetune_sst2(home):
    glue = str(home / "glue")
    proc = run_example("finetune_sst2.py", "--glue_dir", glue, "--max_train", "64", "--epochs", "1", home=home)
    assert "SST-2 validation accuracy:" in proc.stdout


def test_evaluate_pushed(home):
    args = ["--quick", "--tasks", "sst2", "--data_dir", str(home / "glue"), "--vocab", "wordfreq:20000"]
    proc = run_example("evaluate_pushed.py", *args, home=home)
    assert "sst2" in proc.stdout.lower()


def test_plot_scaling_defaults_to_the_demo_runs(home):
    proc = run_example("plot_scaling.py", "--bootstrap", "0", "--break_at", "none", home=home)
    plot = Path(proc.stdout.strip().splitlines()[-1].removeprefix("plot: "))
    assert plot.is_file() and plot.is_relative_to(home / "demo")


def test_a_missing_demo_says_to_run_it(tmp_path):
    for name in ("fill_mask.py", "plot_scaling.py"):
        proc = subprocess.run(
            [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=300, cwd=tmp_path,
            env=subprocess_env(HF_SHRUNK_HOME=str(tmp_path)), stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.returncode != 0 and "hf-shrunk demo" in proc.stderr, (name, proc.stderr[-2000:])


def test_no_example_names_an_org_that_published_nothing():
    for path in EXAMPLES.glob("*.py"):
        assert "hf-shrunk/" not in path.read_text(), path.name
