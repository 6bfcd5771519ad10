"""Artifact folders written safely (issue "Reliability", items 5, 7, 9 and the write sites of 6): names are names,
one writer per artifact, staging folders of killed runs are cleaned up, a full disk and a corrupt cache are
messages, not tracebacks (hf_shrunk.artifacts, hf_shrunk.locks)."""

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import subprocess_env

from hf_shrunk.artifacts import (
    ArtifactError,
    artifact_lock,
    artifact_root,
    describe_differences,
    load_cached_dataset,
    output_dir,
    save_cached_dataset,
    stage_dir,
    staged_output,
)
from hf_shrunk.config import UserError
from hf_shrunk.corpus import CorpusConfig, build_corpus
from hf_shrunk.locks import WriteError, remove_dead_leftovers

WORDS = "the dog ran to park and cat sat on mat a big red ball is my it we see go home".split()


def corpus_config(tmp_path: Path, **overrides) -> CorpusConfig:
    vocab, docs = tmp_path / "vocab.txt", tmp_path / "docs.txt"
    vocab.write_text("\n".join(WORDS))
    docs.write_text("".join(f"the dog ran to the park {i}. the cat sat on the big red mat.\n" for i in range(40)))
    values = {"root": str(tmp_path / "art"), "vocab": str(vocab), "sources": [str(docs)], "sentence_min_tokens": 2}
    return CorpusConfig(**(values | {"validation_size": "0", "test_size": "0"} | overrides))


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


# ---------------------------------------------------------------------------------------------------------
# 5. Names are names
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, problem",
    [
        ("../../x", "is a path"),
        ("/tmp/x", "is a path"),
        ("a/b", "is a path"),
        ("..", "is a path"),
        ("x" * 300, "300 characters long"),
        ("a:b", "file names cannot hold"),
        ("tab\there", "file names cannot hold"),
        (".hidden", "starts with"),
        ("", "is empty"),
    ],
)
def test_output_names_must_be_names(tmp_path, name, problem):
    with pytest.raises(ArtifactError, match=problem) as error:
        output_dir("corpus", name, tmp_path)
    assert "--root" in str(error.value) and len(str(error.value)) < 400


def test_valid_names_and_input_paths(tmp_path):
    for name in ("paper", "owner--repo@step8000", "factorized-e32-h32-i64-a8-l1", "a.b_c"):
        assert output_dir("glue", name, tmp_path) == tmp_path / "glue" / name
    # inputs documented as "name or path" still take paths
    assert stage_dir("corpus", str(tmp_path / "elsewhere")) == tmp_path / "elsewhere"
    assert stage_dir("corpus", "./here") == Path("./here")
    with pytest.raises(ArtifactError, match="300 characters"):
        stage_dir("corpus", "x" * 300, tmp_path)


def test_a_corpus_named_with_dotdot_writes_nothing_outside_the_root(tmp_path):
    cfg = corpus_config(tmp_path, name="../../escaped")
    with pytest.raises(ArtifactError, match="is a path, not a name"):
        build_corpus(cfg, progress=False)
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "art" / "escaped").exists()


def test_root_that_is_a_file(tmp_path):
    root = tmp_path / "root.txt"
    root.write_text("not a folder")
    with pytest.raises(ArtifactError, match="is a file, not a folder"):
        artifact_root(root)
    assert artifact_root(root, check=False) == root  # `hf-shrunk env` reports it anyway


# ---------------------------------------------------------------------------------------------------------
# 7. One writer per artifact
# ---------------------------------------------------------------------------------------------------------

# A corpus build in a child process that stops inside its write step until `go` exists (or is killed there).
PAUSED_BUILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import hf_shrunk.corpus.build as build
    from hf_shrunk.corpus import CorpusConfig, build_corpus

    root, vocab, docs, go = sys.argv[1:5]
    original = build.write_splits

    def paused(folder, splits, *args, **kwargs):
        Path(go + ".waiting").write_text(str(folder))
        while not Path(go).exists():
            time.sleep(0.05)
        return original(folder, splits, *args, **kwargs)

    build.write_splits = paused
    cfg = CorpusConfig(root=root, vocab=vocab, sources=[docs], sentence_min_tokens=2, validation_size="0",
                       test_size="0")
    build_corpus(cfg, progress=False)
    """
)


def start_paused_build(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    cfg = corpus_config(tmp_path)
    go = tmp_path / "go"
    proc = subprocess.Popen(
        [sys.executable, "-c", PAUSED_BUILD, cfg.root, cfg.vocab, cfg.sources[0], str(go)],
        env=subprocess_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while not Path(str(go) + ".waiting").exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline, "the paused build did not start"
        time.sleep(0.05)
    return proc, go


@pytest.mark.slow
def test_two_concurrent_corpus_runs_of_one_name(tmp_path):
    proc, go = start_paused_build(tmp_path)
    lock = tmp_path / "art" / "corpus" / ".default.lock"
    assert json.loads(lock.read_text())["pid"] == proc.pid
    with pytest.raises(WriteError, match=f"being written by process {proc.pid} on {socket.gethostname()}"):
        build_corpus(corpus_config(tmp_path), progress=False)
    go.write_text("")
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    assert (tmp_path / "art" / "corpus" / "default" / "manifest.json").is_file() and not lock.exists()
    _, _, skipped = build_corpus(corpus_config(tmp_path), progress=False)  # the lock is free again
    assert skipped


def test_second_writer_in_the_same_process_is_refused(tmp_path):
    folder = tmp_path / "corpus" / "x"
    with artifact_lock(folder) as lock:
        assert json.loads(lock.read_text())["pid"] == os.getpid()
        with pytest.raises(WriteError, match=f"process {os.getpid()}"), artifact_lock(folder):
            pass
        assert lock.exists()
    assert not lock.exists()


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, capsys):
    folder = tmp_path / "corpus" / "x"
    folder.parent.mkdir(parents=True)
    pid = dead_pid()
    stale = {"pid": pid, "host": socket.gethostname(), "started": "2026-01-01T00:00:00+00:00"}
    (folder.parent / ".x.lock").write_text(json.dumps(stale))
    with artifact_lock(folder) as lock:
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert f"taking over the lock of {folder} left by process {pid}" in capsys.readouterr().err


def test_lock_of_a_killed_process_is_taken_over(tmp_path, capsys):
    folder = tmp_path / "corpus" / "x"
    script = (
        "import time\nfrom hf_shrunk.artifacts import artifact_lock\n"
        f"with artifact_lock({str(folder)!r}):\n    print('held', flush=True)\n    time.sleep(600)"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=subprocess_env())
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(WriteError, match=f"process {holder.pid}"), artifact_lock(folder):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with artifact_lock(folder):
        pass
    assert f"left by process {holder.pid}" in capsys.readouterr().err


def test_lock_from_another_host_is_never_taken_over(tmp_path):
    folder = tmp_path / "corpus" / "x"
    folder.parent.mkdir(parents=True)
    (folder.parent / ".x.lock").write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": "t"}))
    with pytest.raises(WriteError, match=r"process 1 on elsewhere.*delete .*\.x\.lock"), artifact_lock(folder):
        pass


# ---------------------------------------------------------------------------------------------------------
# 9. Staging folders of killed runs
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_staging_folder_of_a_killed_corpus_build_is_removed(tmp_path, capsys):
    proc, _ = start_paused_build(tmp_path)
    corpus_dir = tmp_path / "art" / "corpus"
    (staging,) = corpus_dir.glob(".default.staging-*")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert staging.is_dir()  # SIGKILL: no clean-up ran
    folder, _, skipped = build_corpus(corpus_config(tmp_path), progress=False)
    assert not skipped and (folder / "manifest.json").is_file()
    assert not staging.exists() and sorted(p.name for p in corpus_dir.iterdir()) == ["default"]
    err = capsys.readouterr().err
    assert f"removed {staging}, left by process {proc.pid}" in err and "taking over the lock" in err


def test_only_leftovers_of_dead_processes_of_this_host_are_removed(tmp_path):
    host, dead = socket.gethostname(), dead_pid()
    names = {
        "dead": f".a.staging-{dead}@{host}",
        "alive": f".b.staging-{os.getppid()}@{host}",
        "other_host": f".c.staging-{dead}@elsewhere",
        "cache_tmp": f".d.tmp-{dead}@{host}",
    }
    for name in names.values():
        (tmp_path / name).mkdir()
        (tmp_path / name / "f").write_text("x")
    (tmp_path / f".e.old-{dead}@{host}").mkdir()  # a finished artifact moved aside, its swap never completed
    remove_dead_leftovers(tmp_path)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([names["alive"], names["other_host"], "e"])


# ---------------------------------------------------------------------------------------------------------
# 6. Write sites: a full disk, a corrupt cache
# ---------------------------------------------------------------------------------------------------------


def test_disk_full_while_writing_a_corpus(tmp_path, monkeypatch):
    import hf_shrunk.corpus.build as build

    def full(folder, splits, *args, **kwargs):
        (folder / "train").mkdir()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build, "write_splits", full)
    with pytest.raises(UserError) as error:
        build_corpus(corpus_config(tmp_path), progress=False)
    message = str(error.value)
    assert "no space left on the device while writing" in message and str(tmp_path / "art" / "corpus") in message
    assert " free there" in message and ("GB" in message or "MB" in message)
    assert list((tmp_path / "art" / "corpus").iterdir()) == []  # no staging folder, no lock


def test_a_corrupt_cached_dataset_is_rebuilt(tmp_path, capsys):
    import datasets

    cache = tmp_path / "cache" / "x"
    data = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"a": list(range(5000))})})
    save_cached_dataset(data, cache)
    assert load_cached_dataset(cache)["train"]["a"][-1] == 4999
    (arrow,) = cache.glob("train/*.arrow")
    arrow.write_bytes(arrow.read_bytes()[: arrow.stat().st_size // 2])  # truncated, e.g. by a full disk
    assert load_cached_dataset(cache) is None
    assert not cache.exists() and "cannot be read" in capsys.readouterr().err
    assert load_cached_dataset(tmp_path / "missing") is None


def test_tokenized_corpus_cache_is_rebuilt_when_corrupt(tmp_path, tiny_tokenizer, capsys):
    from conftest import make_corpus_artifact

    from hf_shrunk.pretrain.data import tokenize_corpus

    corpus = make_corpus_artifact(tmp_path, n_train=60, n_eval=10)
    cache = tmp_path / "cache" / "tokenized" / "k"
    tokenizer = copy.deepcopy(tiny_tokenizer)  # using it changes its saved settings: keep the shared one pristine
    first = tokenize_corpus(corpus, tokenizer, cache, mask_config={})
    (state,) = cache.glob("train/state.json")
    state.write_text("{ not json")
    again = tokenize_corpus(corpus, tokenizer, cache, mask_config={})
    assert again["train"]["input_ids"] == first["train"]["input_ids"]
    assert "removing it and building it again" in capsys.readouterr().err


def test_staged_output_leaves_nothing_on_error(tmp_path):
    with pytest.raises(RuntimeError), staged_output(tmp_path / "fit" / "x") as staging:
        (staging / "f").write_text("x")
        raise RuntimeError("boom")
    assert list((tmp_path / "fit").iterdir()) == []


def test_describe_differences():
    old = {"size": "s", "training": {"learning_rate": 5e-4, "seed": 0}, "inputs": [{"fingerprint": "a"}]}
    new = {"size": "s", "training": {"learning_rate": 1e-3, "seed": 0}, "inputs": [{"fingerprint": "b"}], "x": 1}
    assert describe_differences(old, new) == [
        "inputs.0.fingerprint: 'a' -> 'b'",
        "training.learning_rate: 0.0005 -> 0.001",
        "x: '(absent)' -> 1",
    ]
