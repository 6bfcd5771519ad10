"""`hf-shrunk publish` against the fake Hub (tests/fakehub) with the real huggingface_hub/transformers/datasets
clients.

Two real (tiny) pretrain runs, one per family, are trained once per module. Expected values come from the local
artifacts (weights, corpus rows) and hashlib, never from the publisher's own output.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from publish_suite import FACTORIZED, ROBERTA, build_suite

from hf_shrunk.publish import main as publish_main
from hf_shrunk.publish.client import HubAuthError, HubPermissionError
from hf_shrunk.publish.push import MissingResultsError

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """An artifact root with a corpus, a tokenizer, one run per family and GLUE summaries for both (shared)."""
    return build_suite(tmp_path_factory.getbasetemp() / "publish-suite")


def publish(root, org, *extra):
    return publish_main(["--root", str(root), "--org", org, *extra])


def _ids(vocab_size: int):
    g = torch.Generator().manual_seed(0)
    return torch.randint(5, vocab_size, (2, 12), generator=g)


def _assert_same_logits(loaded, local_dir):
    from transformers import AutoModelForMaskedLM

    local = AutoModelForMaskedLM.from_pretrained(local_dir).eval()
    ids = _ids(local.config.vocab_size)
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(ids).logits, local(ids).logits, rtol=0, atol=0)


def test_publish_then_load_models_cards_and_corpus(fakehub, suite):
    from datasets import load_dataset
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results
    from transformers import AutoModelForMaskedLM

    import hf_shrunk

    org = fakehub.org
    assert publish(suite, org, "--dataset") == 0
    for slug in (ROBERTA, FACTORIZED):
        repo, run = f"{org}/shrunk-{slug}", suite / "pretrain" / slug
        _assert_same_logits(AutoModelForMaskedLM.from_pretrained(repo), run / "model")
        _assert_same_logits(AutoModelForMaskedLM.from_pretrained(repo, revision="step4"), run / "snapshots" / "step4")
        files = fakehub.api.list_repo_files(repo)
        assert "training_args.bin" not in files and "README.md" in files
        assert ("modeling_shrunk.py" in files) == (slug == FACTORIZED)
        # checkpoints.json lists every snapshot with the sha256 of the local weights
        listed = json.loads(Path(fakehub.api.hf_hub_download(repo, "checkpoints.json")).read_text())["checkpoints"]
        expected = {"main": run / "model"} | {p.name: p for p in (run / "snapshots").iterdir()}
        assert {e["branch"] for e in listed} == set(expected)
        for entry in listed:
            weights = (expected[entry["branch"]] / "model.safetensors").read_bytes()
            assert entry["sha256"] == hashlib.sha256(weights).hexdigest()
        assert {b.name for b in fakehub.api.list_repo_refs(repo).branches} == set(expected)
        # model-index from the Hub's card equals the GLUE summary
        summary = json.loads((suite / "glue" / slug / "summary.json").read_text())
        results = ModelCard.load(repo).data.eval_results
        want = {
            (f"({'vocabulary-filtered' if cond == 'filtered' else 'full'})", task, split, metric, stats["mean"])
            for cond, body in summary["variants"]["pretrained"].items()
            for task, entry in body["tasks"].items()
            for split, metrics in entry["splits"].items()
            for metric, stats in metrics.items()
        }
        got = {
            (r.dataset_name.rsplit(" ", 1)[1], r.dataset_config, r.dataset_split, r.metric_type, r.metric_value)
            for r in results
        }
        assert got == {(c, t, s, "pearsonr" if m == "pearson" else m, round(v, 4)) for c, t, s, m, v in want}
        filtered_repo = f"{org}/glue-vocab-filtered"
        assert {(r.dataset_name.endswith("(full)"), r.dataset_type) for r in results} == {
            (True, "nyu-mll/glue"),
            (False, filtered_repo),
        }
        # round trip through huggingface_hub's model-index: every result keeps its value and its identity
        card = ModelCard.load(repo)
        _, again = model_index_to_eval_results(eval_results_to_model_index(card.data.model_name, results))

        def keyed(rs):
            return sorted((r.dataset_type, r.dataset_name, r.dataset_config, r.dataset_split, r.metric_type,
                           r.metric_value) for r in rs)  # fmt: skip

        assert keyed(again) == keyed(results) and len({k[:5] for k in keyed(again)}) == len(results)
        assert {".eval_results/glue.yaml", ".eval_results/glue-vocab-filtered.yaml"} <= set(files)
    filtered_dev = load_dataset(f"{org}/glue-vocab-filtered", "sst2", split="validation")
    exported = suite / "glue" / ROBERTA / "filtered_dev" / "sst2" / "validation-00000-of-00001.parquet"
    local_dev = __import__("datasets").load_dataset("parquet", data_files=str(exported))["train"]
    assert len(filtered_dev) > 0 and filtered_dev["sentence"] == local_dev["sentence"]
    dataset_files = set(fakehub.api.list_repo_files(f"{org}/shrunk-corpus", repo_type="dataset"))
    assert {"vocabulary/words.txt", "tokenizer/tokenizer.json", "filter_stats.json", "README.md"} <= dataset_files
    shipped = fakehub.api.hf_hub_download(f"{org}/shrunk-corpus", "vocabulary/words.txt", repo_type="dataset")
    assert Path(shipped).read_bytes() == (suite / "words.txt").read_bytes()
    corpus = load_dataset(f"{org}/shrunk-corpus")
    local = __import__("datasets").load_from_disk(str(suite / "corpus" / "default"))
    assert set(corpus) == {"train", "validation", "test"}
    for split in corpus:
        assert corpus[split]["text"] == local[split]["text"]
    # the user-facing API against the same Hub
    assert hf_shrunk.load_corpus(org=org, split="validation")["text"] == local["validation"]["text"]
    tok = hf_shrunk.load_tokenizer(FACTORIZED, org=org, revision="step2")
    assert tok("the dog")["input_ids"][0] == 0
    model = hf_shrunk.load_model(FACTORIZED, org=org, revision="step2")
    _assert_same_logits(model, suite / "pretrain" / FACTORIZED / "snapshots" / "step2")
    clf = hf_shrunk.load_model(ROBERTA, org=org, task="classification", num_labels=3)
    assert clf.config.num_labels == 3
    collections = list(fakehub.api.list_collections(owner=org))
    assert len(collections) == 1
    items = {i.item_id for i in fakehub.api.get_collection(collections[0].slug).items}
    assert items == {f"{org}/shrunk-{FACTORIZED}", f"{org}/shrunk-{ROBERTA}", f"{org}/shrunk-corpus", filtered_repo}


REMOTE_CODE = """
import json, sys
sys.modules["hf_shrunk"] = None
try:
    import hf_shrunk  # noqa
except ImportError:
    pass
else:
    raise SystemExit("hf_shrunk is importable")
import torch
from transformers import AutoModelForMaskedLM
repo, ids = sys.argv[1], torch.tensor(json.loads(sys.argv[2]))
out = {}
for revision in ("main", "step2"):
    model = AutoModelForMaskedLM.from_pretrained(repo, revision=revision, trust_remote_code=True).eval()
    with torch.no_grad():
        out[revision] = {"module": type(model).__module__, "logits": model(ids).logits.tolist()}
print(json.dumps(out))
"""


@pytest.mark.slow
def test_factorized_loads_with_remote_code_without_hf_shrunk(fakehub, suite, tmp_path):
    from transformers import AutoModelForMaskedLM

    assert publish(suite, fakehub.org, "--sizes", FACTORIZED, "--no_collection") == 0
    run = suite / "pretrain" / FACTORIZED
    ids = _ids(AutoModelForMaskedLM.from_pretrained(run / "model").config.vocab_size)
    proc = subprocess.run(
        [sys.executable, "-c", REMOTE_CODE, f"{fakehub.org}/shrunk-{FACTORIZED}", json.dumps(ids.tolist())],
        capture_output=True,
        text=True,
        env=fakehub.subprocess_env(),
        cwd=tmp_path,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for revision, folder in (("main", run / "model"), ("step2", run / "snapshots" / "step2")):
        assert out[revision]["module"].startswith("transformers_modules")
        local = AutoModelForMaskedLM.from_pretrained(folder).eval()
        with torch.no_grad():
            torch.testing.assert_close(torch.tensor(out[revision]["logits"]), local(ids).logits, rtol=0, atol=1e-6)


def _commit_counts(api, repos):
    counts = {}
    for repo, repo_type in repos:
        for branch in api.list_repo_refs(repo, repo_type=repo_type).branches:
            counts[(repo, branch.name)] = len(api.list_repo_commits(repo, repo_type=repo_type, revision=branch.name))
    return counts


def test_republish_uploads_nothing_and_commits_nothing(fakehub, suite):
    org = fakehub.org
    assert publish(suite, org, "--dataset") == 0
    repos = [(f"{org}/shrunk-{s}", "model") for s in (FACTORIZED, ROBERTA)] + [(f"{org}/shrunk-corpus", "dataset")]
    before, puts = _commit_counts(fakehub.api, repos), len(fakehub.requests("PUT", "/_fakehub/lfs/"))
    assert puts > 0
    log_start = len(fakehub.server.log)
    assert publish(suite, org, "--dataset") == 0
    assert _commit_counts(fakehub.api, repos) == before
    second = fakehub.server.log[log_start:]
    assert not [r for r in second if r[0] == "PUT" or "/commit/" in r[1] or "/preupload/" in r[1]], second


def _main_tree(api, repo):
    return {e.path for e in api.list_repo_tree(repo, recursive=True)}


@pytest.mark.slow
def test_interrupted_publish_completes_on_rerun(fakehub, suite, tmp_path, capsys):
    org = fakehub.org
    cmd = [sys.executable, "-m", "hf_shrunk", "publish", "--root", str(suite), "--org", org, "--dataset"]
    log = (tmp_path / "publish.log").open("wb")
    proc = subprocess.Popen(cmd, env=fakehub.subprocess_env(), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not fakehub.requests("PUT", "/_fakehub/lfs/") and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)  # as abrupt as a lost machine: no cleanup runs
    proc.wait()
    log.close()
    assert fakehub.requests("PUT", "/_fakehub/lfs/"), (tmp_path / "publish.log").read_text()[-2000:]
    repos = [f"{org}/shrunk-{s}" for s in (FACTORIZED, ROBERTA)]
    for repo in repos:  # weights never without a card
        if fakehub.api.repo_exists(repo):
            tree = _main_tree(fakehub.api, repo)
            assert "model.safetensors" not in tree or "README.md" in tree
    capsys.readouterr()
    assert publish_main(["verify", "--org", org, "--sizes", FACTORIZED, ROBERTA, "--dataset"]) == 1
    assert publish(suite, org, "--dataset") == 0
    assert publish_main(["verify", "--org", org]) == 0
    out = capsys.readouterr().out
    assert "verify: 4 repo(s) match" in out


def test_verify_detects_a_tampered_branch(fakehub, suite, capsys):
    org = fakehub.org
    repo = f"{org}/shrunk-{ROBERTA}"
    assert publish(suite, org, "--sizes", ROBERTA) == 0
    assert publish_main(["verify", "--org", org]) == 0
    other = (suite / "pretrain" / ROBERTA / "snapshots" / "step1" / "model.safetensors").read_bytes()
    fakehub.api.upload_file(path_or_fileobj=other, path_in_repo="model.safetensors", repo_id=repo, revision="step2")
    fakehub.api.create_branch(repo, branch="step999")
    fakehub.api.upload_file(path_or_fileobj=b"left over", path_in_repo="stale.txt", repo_id=repo)
    capsys.readouterr()
    assert publish_main(["verify", "--org", org]) == 1
    out = capsys.readouterr().out
    assert f"{repo}@step2: model.safetensors has sha256 {hashlib.sha256(other).hexdigest()[:16]}" in out
    assert f"{repo}@step999: branch exists on the Hub but is not listed" in out
    assert f"{repo}@step4" not in out
    # publishing again repairs the branch and removes files it does not plan (an extra branch is not ours to
    # delete: it stays reported)
    assert publish(suite, org, "--sizes", ROBERTA) == 0
    assert "stale.txt" not in fakehub.api.list_repo_files(repo)
    capsys.readouterr()
    assert publish_main(["verify", "--org", org]) == 1
    out = capsys.readouterr().out
    assert "@step2" not in out and "@step999" in out


def test_auth_and_permission_errors(fakehub, suite, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(HubAuthError, match="hf auth login"):
        publish(suite, fakehub.org, "--sizes", ROBERTA)
    with pytest.raises(HubAuthError, match="401: invalid or expired"):
        publish(suite, fakehub.org, "--sizes", ROBERTA, "--token", "hf_not_a_real_token")
    with pytest.raises(HubPermissionError) as err:
        publish(suite, fakehub.org, "--sizes", ROBERTA, "--token", fakehub.other_token)
    assert f"{fakehub.other_user!r} has no write access to {fakehub.org}/shrunk-{ROBERTA}" in str(err.value)
    assert not fakehub.api.repo_exists(f"{fakehub.org}/shrunk-{ROBERTA}")


def test_missing_glue_results(fakehub, suite, tmp_path):
    import shutil

    from huggingface_hub import ModelCard

    root = tmp_path / "root"
    shutil.copytree(
        suite / "pretrain" / ROBERTA, root / "pretrain" / ROBERTA, ignore=shutil.ignore_patterns("checkpoints")
    )
    with pytest.raises(MissingResultsError, match="--allow_missing_results"):
        publish(root, fakehub.org)
    assert fakehub.server.log == []  # refused before talking to the Hub
    assert publish(root, fakehub.org, "--allow_missing_results") == 0
    card = ModelCard.load(f"{fakehub.org}/shrunk-{ROBERTA}")
    assert card.data.eval_results is None and "model-index" not in card.content
    assert "No GLUE results were published for this model" in card.text


def _local_tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def _hub_tree(api, repo, repo_type, revision) -> dict[str, str]:
    from huggingface_hub import hf_hub_download

    out = {}
    for entry in api.list_repo_tree(repo, repo_type=repo_type, revision=revision, recursive=True):
        if hasattr(entry, "blob_id") and entry.path != ".gitattributes":
            data = Path(hf_hub_download(repo, entry.path, repo_type=repo_type, revision=revision)).read_bytes()
            out[entry.path] = hashlib.sha256(data).hexdigest()
    return out


def test_to_dir_holds_exactly_what_a_push_uploads(fakehub, suite, tmp_path):
    out = tmp_path / "tree"
    assert publish(suite, fakehub.org, "--dataset", "--to_dir", str(out)) == 0
    assert fakehub.server.log == []  # --to_dir pushes nothing
    plan = json.loads((out / "plan.json").read_text())
    assert publish(suite, fakehub.org, "--dataset") == 0
    folders = sorted(p for p in out.glob("*/*/*") if p.is_dir())
    # per model: step0 1 2 4 8 and main; the corpus; the filtered GLUE dev sets
    assert len(folders) == sum(len(r["branches"]) for r in plan["repos"]) == 2 * 6 + 2
    for folder in folders:
        repo_type, name, branch = folder.relative_to(out).parts
        hub = _hub_tree(fakehub.api, f"{fakehub.org}/{name}", repo_type.rstrip("s"), branch)
        assert _local_tree(folder) == hub, folder


def test_dry_run_prints_the_plan_and_renders_cards_only(fakehub, suite, tmp_path, capsys):
    out = tmp_path / "cards"
    assert publish(suite, fakehub.org, "--dataset", "--dry_run", "--to_dir", str(out)) == 0
    assert fakehub.server.log == []
    printed = capsys.readouterr().out
    assert f"{fakehub.org}/shrunk-{FACTORIZED} (model, 6 branch(es)" in printed and "model.safetensors" in printed
    assert {p.name for p in out.rglob("*") if p.is_file()} == {"README.md", "plan.json"}
    assert (out / "datasets" / "shrunk-corpus" / "main" / "README.md").read_text().startswith("---\n")


def test_publish_help_does_not_import_torch():
    code = (
        "import sys\nsys.argv = ['hf-shrunk']\nfrom hf_shrunk.cli import main\n"
        "for args in (['publish', '--help'], ['publish', 'verify', '--help']):\n"
        "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--allow_missing_results" in proc.stdout and "checkpoints.json" in proc.stdout


def test_repo_ids_and_sizes(monkeypatch):
    from hf_shrunk.config import ConfigError
    from hf_shrunk.hub import list_sizes, repo_id

    sizes = list_sizes()
    assert len(sizes) == 42 and "factorized-e32-h32-i64-a8-l1" in sizes
    monkeypatch.delenv("HF_SHRUNK_ORG", raising=False)
    with pytest.raises(ConfigError, match="HF_SHRUNK_ORG"):  # no default org that nobody published to
        repo_id("magic-bee-26")
    monkeypatch.setenv("HF_SHRUNK_ORG", "someone")
    assert repo_id("magic-bee-26") == "someone/shrunk-factorized-e32-h32-i64-a8-l1"
    assert repo_id("roberta-h256-i1024-a8-l4", org="me") == "me/shrunk-roberta-h256-i1024-a8-l4"
    assert repo_id("someone/any-repo") == "someone/any-repo"


def test_glue_scores_a_pushed_checkpoint(fakehub, suite, tmp_path, capsys):
    """`hf-shrunk glue <org>/<repo>@step{N}` and `hub.evaluate_pushed` download the branch and score it."""
    from conftest import make_glue_dir

    from hf_shrunk.glue import evaluate_pushed
    from hf_shrunk.glue import main as glue_main

    org = fakehub.org
    assert publish(suite, org) == 0
    data = make_glue_dir(tmp_path / "glue_data")
    repo = f"{org}/shrunk-{FACTORIZED}"
    common = ["--root", str(tmp_path), "--data_dir", str(data), "--tasks", "sst2", "--seeds", "0", "--num_epochs", "1"]
    assert glue_main([f"{repo}@step4", *common, "--condition", "full"]) == 0
    assert "GLUE for " + f"{repo}@step4" in capsys.readouterr().out
    summary = json.loads((tmp_path / "glue" / f"{org}--shrunk-{FACTORIZED}@step4" / "summary.json").read_text())
    assert summary["revision"] == "step4" and summary["model"] == f"{repo}@step4"
    assert summary["variants"]["pretrained"]["full"]["tasks"]["sst2"]["n_eval"] == {"validation": 100}
    # the branch really was downloaded: its weights sit in this test's fresh cache
    cached = list((fakehub.home / "hub").rglob("model.safetensors"))
    step4 = (suite / "pretrain" / FACTORIZED / "snapshots" / "step4" / "model.safetensors").read_bytes()
    assert any(p.read_bytes() == step4 for p in cached)
    again = evaluate_pushed(
        repo,
        revision="step4",
        root=str(tmp_path),
        data_dir=str(data),
        tasks=["sst2"],
        seeds=["0"],
        condition="full",
        num_epochs=1.0,
    )
    assert again["variants"] == summary["variants"]  # same results folder: nothing re-scored
