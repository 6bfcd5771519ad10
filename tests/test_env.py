"""`hf-shrunk env`: the bug-report block (versions, devices, settings) without leaking secrets."""

import json

from hf_shrunk.cli import main as cli_main
from hf_shrunk.env import LIBRARIES, environment_report


def test_env_prints_what_a_bug_report_needs(capsys, monkeypatch):
    monkeypatch.setenv("HF_SHRUNK_DATA_DIR", "/data/mirror")
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    assert cli_main(["env"]) == 0
    out = capsys.readouterr().out
    for needle in ("hf_shrunk: 0.1.0", "Python:", "platform:", "CUDA:", "MPS:", "CPUs:", "RAM:", "artifact root:"):
        assert needle in out, needle
    for name in LIBRARIES:
        assert f"- {name}: " in out, name
    assert "- HF_SHRUNK_DATA_DIR: /data/mirror" in out and "- HF_HUB_OFFLINE: 1" in out  # conftest sets offline
    assert "- HF_ENDPOINT: http://127.0.0.1:" in out
    assert "- HF_TOKEN: set" in out and "hf_secret_value" not in out


def test_env_json_is_machine_readable(capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert cli_main(["env", "--json", "--root", "/somewhere/artifacts"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["artifact_root"] == "/somewhere/artifacts"
    assert report["libraries"]["transformers"] and report["libraries"]["torch"]
    assert report["accelerators"]["cuda_available"] in (True, False)
    assert report["cpu"]["count"] >= 1 and report["environment"]["HF_TOKEN"] is None
    assert report["hf_shrunk"]["version"] == "0.1.0"


def test_a_missing_library_is_reported_not_fatal(monkeypatch):
    import hf_shrunk.env as env

    monkeypatch.setattr(env, "LIBRARIES", ("torch", "no-such-package-hf-shrunk"))
    assert environment_report()["libraries"] == {
        "torch": env.library_versions()["torch"],
        "no-such-package-hf-shrunk": None,
    }
