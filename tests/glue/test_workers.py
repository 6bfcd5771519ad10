"""GLUE workers take jobs by claim files (hf_shrunk.glue.workers.claimed): one live holder per job, a dead
holder's claim is taken over, a finished job is never claimed, and claims are released."""

import subprocess
import sys

from hf_shrunk.glue.workers import CLAIM_SUFFIX, claimed


def test_a_live_claim_excludes_others_and_is_released(tmp_path):
    result = tmp_path / "results" / "sst2-seed0.json"
    claim = result.with_name(result.name + CLAIM_SUFFIX)
    with claimed(result) as first:
        assert first and claim.is_file()
        with claimed(result) as second:  # the same live process holds it: a second worker must not take it
            assert not second
        assert claim.is_file()  # the refused attempt did not release the holder's claim
    assert not claim.exists()


def test_a_dead_workers_claim_is_taken_over(tmp_path):
    result = tmp_path / "r.json"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    result.with_name(result.name + CLAIM_SUFFIX).write_text(dead.stdout.strip())
    with claimed(result) as mine:
        assert mine


def test_a_finished_job_is_not_claimed(tmp_path):
    result = tmp_path / "r.json"
    result.write_text("{}")
    with claimed(result) as mine:
        assert not mine
    assert not result.with_name(result.name + CLAIM_SUFFIX).exists()
