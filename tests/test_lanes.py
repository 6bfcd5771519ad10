"""hf_shrunk.lanes: jobs start when a lane is free and what they need is done; a shared job runs on several lanes
until one of its processes ends; a failure stops the rest and reports the log."""

import os
import sys
import time

import pytest

from hf_shrunk.config import UserError
from hf_shrunk.lanes import Job, Lanes


def _script(code: str):
    return lambda: ([sys.executable, "-c", code], dict(os.environ))


def _stamp(tmp_path, name: str, seconds: float = 0.3) -> str:
    return (f"import time, pathlib; s = time.time(); time.sleep({seconds}); "
            f"pathlib.Path({str(tmp_path / name)!r}).write_text(f'{{s}} {{time.time()}}')")  # fmt: skip


def _span(tmp_path, name: str) -> tuple[float, float]:
    start, end = (tmp_path / name).read_text().split()
    return float(start), float(end)


def test_dependencies_and_lanes(tmp_path):
    jobs = [
        Job("long", _script(_stamp(tmp_path, "long", 1.5))),
        Job("a", _script(_stamp(tmp_path, "a"))),
        Job("after a", _script(_stamp(tmp_path, "after-a")), after=("a",)),
    ]
    said = []
    seconds = Lanes(jobs, 2, tmp_path / "logs", say=said.append).run()
    assert set(seconds) == {"long", "a", "after a"}
    assert _span(tmp_path, "after-a")[0] >= _span(tmp_path, "a")[1]  # started after what it needs
    assert _span(tmp_path, "a")[0] < _span(tmp_path, "long")[1]  # two lanes: ran beside the long job
    assert any("lane 2" in line for line in said) and not any("lane 3" in line for line in said)


def test_a_shared_job_fills_free_lanes_until_one_process_ends(tmp_path):
    claim = (
        "import os, pathlib, time\n"
        f"root = pathlib.Path({str(tmp_path)!r})\n"
        "for i in range(6):\n"
        "    try: os.close(os.open(root / f'item{i}', os.O_CREAT | os.O_EXCL))\n"
        "    except FileExistsError: continue\n"
        "    (root / f'item{i}').write_text(str(os.getpid())); time.sleep(0.3)\n"
    )
    Lanes([Job("work", lambda: ([sys.executable, "-c", claim], dict(os.environ)), shared=True)], 2,
          tmp_path / "logs").run()  # fmt: skip
    holders = {(tmp_path / f"item{i}").read_text() for i in range(6)}
    assert len(holders) == 2  # two processes shared the items
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["work.2.log", "work.log"]


def test_a_failure_stops_the_others_and_shows_the_log(tmp_path):
    jobs = [
        Job("slow", _script(_stamp(tmp_path, "slow", 30))),
        Job("bad", _script("import sys; print('the reason'); sys.exit(3)")),
    ]
    start = time.perf_counter()
    with pytest.raises(UserError, match=r"(?s)bad failed \(exit 3\).*the reason.*bad\.log"):
        Lanes(jobs, 2, tmp_path / "logs").run()
    assert time.perf_counter() - start < 20 and not (tmp_path / "slow").exists()
