"""`hf-shrunk publish` when the Hub misbehaves or holds something else: transient failures (a fault-injecting proxy in
front of the fake Hub), an interrupted publish, a repo holding another run, corrupted storage, and verify's own
flags. Expected values come from the local artifacts, hashlib and the fake Hub's own state.
"""

import hashlib
import json
import logging
import shutil
import time
import types
from pathlib import Path

import pytest
from faultproxy import FaultProxy
from publish_suite import FACTORIZED, ROBERTA, build_suite

from hf_shrunk.cli import main as cli_main
from hf_shrunk.config import ConfigError
from hf_shrunk.publish import main as publish_main
from hf_shrunk.publish.client import (
    HubUnavailableError,
    RetryingApi,
    RetryPolicy,
    RetryStats,
    transient,
    with_retries,
)

SCALE = 0.01  # every retry wait of these tests is 1/100 of the real one


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    return build_suite(tmp_path_factory.getbasetemp() / "publish-suite")


@pytest.fixture()
def fast_waits(monkeypatch):
    """Retry waits scaled down: hf_shrunk's through its env var; huggingface_hub's own backoff (paginated listings,
    preupload, LFS batch) sleeps through the `time` of its `_http` module, replaced here by a scaled one."""
    import huggingface_hub.utils._http as hub_http

    monkeypatch.setenv("HF_SHRUNK_HUB_RETRY_SCALE", str(SCALE))
    monkeypatch.setattr(hub_http, "time", types.SimpleNamespace(sleep=lambda s: time.sleep(s * SCALE)))


@pytest.fixture()
def endpoint(monkeypatch):
    """``endpoint(url)`` points the Hub clients at ``url`` (HF_ENDPOINT, and the value huggingface_hub read from it
    at import)."""
    from huggingface_hub import constants

    def use(url: str) -> None:
        monkeypatch.setenv("HF_ENDPOINT", url)
        monkeypatch.setattr(constants, "ENDPOINT", url)
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")

    return use


def _repos(org):
    datasets = [(f"{org}/shrunk-corpus", "dataset"), (f"{org}/glue-vocab-filtered", "dataset")]
    return [(f"{org}/shrunk-{s}", "model") for s in (FACTORIZED, ROBERTA)] + datasets


def _histories(api, repos):
    out = {}
    for repo, repo_type in repos:
        for branch in api.list_repo_refs(repo, repo_type=repo_type).branches:
            out[(repo, branch.name)] = len(api.list_repo_commits(repo, repo_type=repo_type, revision=branch.name))
    return out


def _commits(fakehub) -> int:
    return len([r for r in fakehub.requests("POST", "/commit/") if r[2] == 200])


# ---------------------------------------------------------------------------------------------- the retry helper


class _Answer(Exception):
    """An HTTP error as huggingface_hub raises it: ``.response`` with a status and headers."""

    def __init__(self, status, headers=None):
        super().__init__(f"HTTP {status}")
        self.response = types.SimpleNamespace(status_code=status, headers=headers or {})


def _flaky(errors, result="ok"):
    calls = []

    def call():
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return result

    return call, calls


@pytest.fixture()
def sleeps(monkeypatch):
    import hf_shrunk.publish.client as client

    slept = []
    monkeypatch.setattr(client.time, "sleep", slept.append)
    return slept


def test_transient_failures_are_retried_and_others_are_not(sleeps, caplog):
    import httpx2
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    dropped = httpx2.RemoteProtocolError("Server disconnected without sending a response.")
    try:  # how hf_hub_download reports a connection failure: raised from the transport error
        raise LocalEntryNotFoundError("cannot find the requested files") from httpx2.ConnectError("refused")
    except LocalEntryNotFoundError as e:
        wrapped = e
    call, calls = _flaky([_Answer(500), _Answer(503), dropped, wrapped, _Answer(429)])
    with caplog.at_level(logging.WARNING, logger="hf_shrunk.publish"):
        assert with_retries(call, "listing", RetryPolicy(tries=8)) == "ok"
    assert len(calls) == 6 and len(sleeps) == 5
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "listing: HTTP 500",
        "listing: HTTP 503",
        "listing: RemoteProtocolError",
        "listing: LocalEntryNotFoundError (ConnectError)",
        "listing: HTTP 429",
    ]
    for status in (400, 401, 403, 404, 409, 412):
        call, calls = _flaky([_Answer(status)])
        with pytest.raises(_Answer):
            with_retries(call, "x", RetryPolicy())
        assert len(calls) == 1, status
    assert transient(_Answer(412), also=frozenset({412}))
    assert not transient(OfflineModeIsEnabled("offline")) and not transient(ValueError("bad"))


def test_backoff_grows_with_jitter_honours_retry_after_and_is_bounded(sleeps):
    policy = RetryPolicy(tries=6, base=1.0, cap=4.0, budget=100.0)
    call, _ = _flaky([_Answer(502)] * 5)
    with_retries(call, "x", policy)
    for attempt, wait in enumerate(sleeps, 1):
        step = min(4.0, 2 ** (attempt - 1))
        assert step / 2 <= wait <= step
    sleeps.clear()
    call, _ = _flaky([_Answer(429, {"Retry-After": "7"})])
    with_retries(call, "x", RetryPolicy(scale=0.5))
    assert sleeps == [3.5]  # the server's 7 s, scaled like every wait
    sleeps.clear()
    stats = RetryStats()
    call, calls = _flaky([_Answer(500)] * 20)
    with pytest.raises(HubUnavailableError, match=r"after 8 tries.*run the same command again"):
        with_retries(call, "x", RetryPolicy(tries=8), stats)
    assert len(calls) == 8 and stats.retries == 7
    call, calls = _flaky([_Answer(500)] * 20)
    with pytest.raises(HubUnavailableError):
        with_retries(call, "x", RetryPolicy(tries=50, base=1.0, cap=8.0, budget=20.0))
    assert sum(sleeps[-(len(calls) - 1) :]) <= 20.0 < 40  # the budget bounds the total wait


def test_retrying_api_repeats_only_repeatable_calls(sleeps):
    calls = []

    class Api:
        def create_repo(self, repo_id, exist_ok=False):
            calls.append(("create_repo", exist_ok))
            raise _Answer(503)

        def create_commit(self, repo_id):
            calls.append(("create_commit",))
            raise _Answer(503)

        def list_repo_tree(self, repo_id):
            calls.append(("list_repo_tree",))

            def pages():
                yield 1
                if len(calls) < 3:
                    raise _Answer(500)  # a later page fails: the whole listing is read again
                yield 2

            return pages()

    api = RetryingApi(Api(), RetryPolicy(tries=3))
    assert api.list_repo_tree("r") == [1, 2] and len(calls) == 3
    calls.clear()
    with pytest.raises(_Answer):
        api.create_repo("r")  # without exist_ok a repeat would fail on the repo the first try made
    with pytest.raises(_Answer):
        api.create_commit("r")  # commits are retried by push.commit_branch, which re-reads the branch first
    with pytest.raises(HubUnavailableError):
        api.create_repo("r", exist_ok=True)
    assert calls == [("create_repo", False), ("create_commit",)] + [("create_repo", True)] * 3


def test_retry_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("HF_SHRUNK_HUB_TRIES", "3")
    monkeypatch.setenv("HF_SHRUNK_HUB_RETRY_SCALE", "0.5")
    policy = RetryPolicy.from_env()
    assert (policy.tries, policy.scale) == (3, 0.5)
    monkeypatch.setenv("HF_SHRUNK_HUB_TRIES", "0")
    with pytest.raises(ConfigError, match="HF_SHRUNK_HUB_TRIES"):
        RetryPolicy.from_env()


# ------------------------------------------------------------------------------------ publishing through faults


@pytest.mark.hub
def test_publish_and_verify_through_a_faulty_proxy(fakehub, suite, fast_waits, endpoint, caplog, capsys):
    org = fakehub.org
    proxy = FaultProxy(fakehub.endpoint, fail_every=9, throttle_every=23, drop_every=13, drop_commit_answers=2)
    with proxy, caplog.at_level(logging.WARNING):
        endpoint(proxy.endpoint)
        started = time.monotonic()
        assert cli_main(["publish", "--root", str(suite), "--org", org, "--dataset"]) == 0
        wall, seen = time.monotonic() - started, dict(proxy.counts)
        printed = capsys.readouterr().out
        ours = [r for r in caplog.records if r.name == "hf_shrunk.publish" and "retry" in r.getMessage()]
        theirs = [r for r in caplog.records if r.name.startswith("huggingface_hub") and "Retry" in r.getMessage()]
        # every commit landed once: each branch holds the repo's first commit and exactly one of ours
        histories = _histories(fakehub.api, _repos(org))
        assert set(histories.values()) == {2}, histories
        assert len(histories) == 2 * 6 + 2  # 6 branches per model, corpus, filtered GLUE
        assert proxy.counts["commits"] == _commits(fakehub) == len(histories)
        assert cli_main(["publish", "verify", "--org", org]) == 0
        assert "verify: 4 repo(s) match their checkpoints.json (deep" in capsys.readouterr().out
        before = _commits(fakehub)
        assert cli_main(["publish", "--root", str(suite), "--org", org, "--dataset"]) == 0
        assert _commits(fakehub) == before
        assert "done: 0 commit(s)" in capsys.readouterr().out
    faults = sum(seen.get(k, 0) for k in ("500", "429", "drop-before", "drop-after"))
    assert seen["500"] and seen["429"] and seen["drop-before"] and seen["drop-after"]
    assert faults / seen["requests"] >= 0.10
    assert len(ours) == int(printed.split("hub: ")[1].split()[0]), printed
    waited = float(printed.split("transient failure(s) retried (")[1].split()[0])
    with capsys.disabled():
        print(
            f"\nfault-proxy publish: {seen['requests']} requests through the proxy, {faults} faults "
            f"({faults / seen['requests']:.0%}: {seen['500']}x500, {seen['429']}x429, "
            f"{seen['drop-before'] + seen['drop-after']} dropped; 2 commit answers lost); {len(ours)} retries by "
            f"hf_shrunk ({waited:.2f} s waited, {waited / SCALE:.0f} s unscaled), {len(theirs)} by huggingface_hub; "
            f"wall {wall:.1f} s (waits x{SCALE}). With verify and the re-run: {proxy.counts['requests']} requests, "
            f"{proxy.faults} faults"
        )


@pytest.mark.hub
def test_interrupted_publish_leaves_no_complete_looking_main(fakehub, suite, fast_waits, endpoint, capsys):
    org = fakehub.org
    with FaultProxy(fakehub.endpoint, die_after_commits=3) as proxy:
        endpoint(proxy.endpoint)
        assert cli_main(["publish", "--root", str(suite), "--org", org, "--dataset"]) == 2
    err = capsys.readouterr().err
    assert "the Hub kept failing" in err and "run the same command again" in err
    assert proxy.counts["commits"] == 3 and proxy.counts["dead"] > 0
    for repo, repo_type in _repos(org):
        if not fakehub.api.repo_exists(repo, repo_type=repo_type):
            continue
        branches = {b.name for b in fakehub.api.list_repo_refs(repo, repo_type=repo_type).branches}
        files = set(fakehub.api.list_repo_files(repo, repo_type=repo_type))
        if "checkpoints.json" in files:
            listed = json.loads(Path(fakehub.api.hf_hub_download(repo, "checkpoints.json")).read_text())
            assert {e["branch"] for e in listed["checkpoints"]} <= branches, repo
        assert ("model.safetensors" in files) <= ("README.md" in files)
    first = f"{org}/shrunk-{FACTORIZED}"
    assert "checkpoints.json" not in fakehub.api.list_repo_files(first)  # its step branches went first
    endpoint(fakehub.endpoint)
    assert cli_main(["publish", "--root", str(suite), "--org", org, "--dataset"]) == 0
    capsys.readouterr()
    assert cli_main(["publish", "verify", "--org", org]) == 0
    before = _commits(fakehub)
    assert cli_main(["publish", "--root", str(suite), "--org", org, "--dataset"]) == 0
    assert _commits(fakehub) == before


def test_step_branches_are_committed_before_main(fakehub, suite):
    org = fakehub.org
    assert publish_main(["--root", str(suite), "--org", org, "--sizes", ROBERTA, "--no_collection"]) == 0
    repo = f"/api/models/{org}/shrunk-{ROBERTA}/commit/"
    order = [p.split("/commit/")[1] for m, p, s in fakehub.server.log if m == "POST" and repo in p]
    assert order[-1] == "main" and len(order) == 6 and order[0] == "step0" and "main" not in order[:-1]


# ------------------------------------------------------------------------------------------ another run's repo


def _other_run(suite: Path, root: Path, slug: str) -> Path:
    """A copy of ``slug``'s run whose manifest says it is another run (another seed, trained later)."""
    run = root / "pretrain" / slug
    shutil.copytree(suite / "pretrain" / slug, run, ignore=shutil.ignore_patterns("checkpoints"))
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["config"]["seed"] = 1
    manifest["created"] = "2031-01-01T00:00:00+00:00"
    manifest.pop("key", None)
    (run / "manifest.json").write_text(json.dumps(manifest))
    shutil.copytree(suite / "glue" / slug, root / "glue" / slug)
    return run


def test_publish_refuses_a_repo_of_another_run(fakehub, suite, tmp_path, capsys):
    from hf_shrunk.publish.push import OtherRunError

    org, repo = fakehub.org, f"{fakehub.org}/shrunk-{ROBERTA}"
    assert publish_main(["--root", str(suite), "--org", org, "--sizes", ROBERTA]) == 0
    listed = json.loads(Path(fakehub.api.hf_hub_download(repo, "checkpoints.json")).read_text())
    local = json.loads((suite / "pretrain" / ROBERTA / "manifest.json").read_text())
    assert listed["run"] == {"name": ROBERTA, "key": local["key"], "created": local["created"]}
    other = tmp_path / "other"
    _other_run(suite, other, ROBERTA)
    commits = _commits(fakehub)
    with pytest.raises(OtherRunError) as err:
        publish_main(["--root", str(other), "--org", org, "--sizes", ROBERTA])
    message = str(err.value)
    assert local["created"] in message and "2031-01-01T00:00:00+00:00" in message and local["key"] in message
    assert "--overwrite" in message and "--repo_suffix" in message
    assert _commits(fakehub) == commits  # refused before any change
    # a suffix gives the other seed a repo of its own, next to the first
    assert publish_main(["--root", str(other), "--org", org, "--sizes", ROBERTA, "--repo_suffix", "seed1"]) == 0
    seed1 = json.loads(Path(fakehub.api.hf_hub_download(f"{repo}-seed1", "checkpoints.json")).read_text())
    assert seed1["repo_id"] == f"{repo}-seed1" and seed1["run"]["created"] == "2031-01-01T00:00:00+00:00"
    capsys.readouterr()
    assert publish_main(["verify", "--org", org, "--sizes", ROBERTA, "--repo_suffix=-seed1"]) == 0
    assert f"ok   {repo}-seed1" in capsys.readouterr().out
    # --overwrite replaces it, and deletes the step branches the new run does not have
    fakehub.api.create_branch(repo, branch="step999")
    assert publish_main(["--root", str(other), "--org", org, "--sizes", ROBERTA, "--overwrite"]) == 0
    assert "overwriting" in capsys.readouterr().out
    replaced = json.loads(Path(fakehub.api.hf_hub_download(repo, "checkpoints.json")).read_text())
    assert replaced["run"]["created"] == "2031-01-01T00:00:00+00:00"
    assert "step999" not in {b.name for b in fakehub.api.list_repo_refs(repo).branches}
    assert publish_main(["verify", "--org", org, "--sizes", ROBERTA]) == 0
    assert publish_main(["--root", str(other), "--org", org, "--sizes", ROBERTA]) == 0  # now it is the same run


def test_repo_suffix_is_checked():
    from hf_shrunk.publish import PublishConfig

    assert PublishConfig(org="o", repo_suffix="-seed1").repo_suffix == "-seed1"
    assert PublishConfig(org="o", repo_suffix="seed1").repo_suffix == "-seed1"
    assert PublishConfig(org="o", repo_suffix="_v2").repo_suffix == "_v2"
    for bad in ("--x", "-seed1-", "/x", "a b", "x..y", "seed."):
        with pytest.raises(ConfigError, match="--repo_suffix"):
            PublishConfig(org="o", repo_suffix=bad)


# ------------------------------------------------------------------------------------------------- verify --deep


def test_verify_deep_hashes_the_bytes_not_the_recorded_id(fakehub, suite, capsys):
    org, repo = fakehub.org, f"{fakehub.org}/shrunk-{ROBERTA}"
    assert publish_main(["--root", str(suite), "--org", org, "--sizes", ROBERTA, "--dataset"]) == 0
    weights = (suite / "pretrain" / ROBERTA / "snapshots" / "step2" / "model.safetensors").read_bytes()
    sha = hashlib.sha256(weights).hexdigest()
    stored = fakehub.server.storage.object_path(sha)
    corrupt = bytearray(stored.read_bytes())
    corrupt[len(corrupt) // 2] ^= 0xFF  # one flipped byte, same size; the Hub still records the old id
    stored.write_bytes(bytes(corrupt))
    parquet = fakehub.server.storage.object_path(
        hashlib.sha256((suite / "corpus" / "default" / "parquet" / "test.parquet").read_bytes()).hexdigest()
    )
    parquet.write_bytes(parquet.read_bytes()[:-1] + b"\0")
    capsys.readouterr()
    assert publish_main(["verify", "--org", org, "--shallow"]) == 0  # what verify saw before --deep
    assert "(shallow" in capsys.readouterr().out
    assert publish_main(["verify", "--org", org]) == 1  # deep by default: the suite is small
    out = capsys.readouterr().out
    bad = hashlib.sha256(bytes(corrupt)).hexdigest()
    assert f"{repo}@step2: model.safetensors downloads as sha256 {bad[:16]}…, checkpoints.json lists {sha[:16]}" in out
    assert f"{org}/shrunk-corpus: data/test.parquet downloads as sha256" in out
    assert out.count("downloads as sha256") == 2 and "(deep: " in out
    assert publish_main(["verify", "--org", org, "--deep", "--sizes", ROBERTA]) == 1


def test_verify_help_lists_only_its_own_flags(capsys):
    with pytest.raises(SystemExit):
        publish_main(["verify", "--help"])
    out = capsys.readouterr().out
    for flag in ("--org", "--sizes", "--dataset", "--deep", "--shallow", "--repo_suffix", "--token", "--root"):
        assert flag in out, flag
    for flag in ("--allow_missing_results", "--to_dir", "--dry_run", "--private", "--license", "--overwrite"):
        assert flag not in out, flag
    assert "2 GB" in out
    with pytest.raises(SystemExit):
        publish_main(["--help"])
    out = capsys.readouterr().out
    assert "--overwrite" in out and "--repo_suffix" in out and "--deep" not in out
