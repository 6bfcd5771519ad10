"""The cluster scripts, run with stand-ins for `sbatch`, `srun`, `scontrol` and `hf-shrunk` that record what they
were asked: each node of a multi-node grid run gets its own --machine_rank and the first node's address."""

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

STANDINS = {
    "hf-shrunk": """#!/usr/bin/env bash
echo "hf-shrunk $* [SLURM_NODEID=${SLURM_NODEID:-}]" >> "$CALLS"
if [[ "$1" == sizes ]]; then python3 -c 'import json; print(json.dumps([{"slug": f"size-{i}"} for i in range(5)]))'; fi
""",
    "sbatch": """#!/usr/bin/env bash
echo "sbatch $*" >> "$CALLS"; echo 1000
""",
    "scontrol": """#!/usr/bin/env bash
printf 'node-a\\nnode-b\\n'
""",
    # srun: run the command once per node, as SLURM does, with that node's SLURM_NODEID
    "srun": """#!/usr/bin/env bash
nodes=1; while [[ "$1" == --* ]]; do [[ "$1" == --nodes=* ]] && nodes="${1#--nodes=}"; shift; done
for ((i = 0; i < nodes; i++)); do SLURM_NODEID=$i "$@"; done
""",
}


@pytest.fixture()
def cluster(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in STANDINS.items():
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    calls = tmp_path / "calls.txt"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls), "SLURM_SUBMIT_DIR": str(REPO)}
    env.pop("ORG", None)

    def run(**extra: str) -> list[str]:
        calls.write_text("")
        proc = subprocess.run(
            ["bash", "scripts/reproduce_paper.slurm"], cwd=REPO, env={**env, **extra}, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        return calls.read_text().splitlines()

    return run


def test_multi_node_run_gets_rank_and_address_per_node(cluster):
    calls = cluster(SHRUNK_STAGE="size", SLURM_ARRAY_TASK_ID="3", NODES_PER_RUN="2", GPUS_PER_NODE="8",
                    SLURM_JOB_NODELIST="node-[a-b]")  # fmt: skip
    pretrain = [c for c in calls if c.startswith("hf-shrunk pretrain")]
    assert len(pretrain) == 2 and not [c for c in calls if c.startswith("hf-shrunk glue")]
    for rank, call in enumerate(pretrain):
        args = call.split()
        assert args[args.index("--size") + 1] == "size-3"
        assert args[args.index("--accelerate_config") + 1] == "multi_node" and args.count("--accelerate_config") == 1
        assert args[args.index("--machine_rank") + 1] == str(rank)
        assert args[args.index("--main_process_ip") + 1] == "node-a"
        assert args[args.index("--num_machines") + 1] == "2" and args[args.index("--num_processes") + 1] == "16"


def test_setup_submits_pretraining_then_glue_arrays_then_the_final_job(cluster):
    calls = cluster()
    sbatch = [c for c in calls if c.startswith("sbatch")]
    assert [c.split("--job-name=")[1].split()[0] for c in sbatch] == ["shrunk-size", "shrunk-glue", "shrunk-final"]
    assert "--array=0-4" in sbatch[0] and "--array=0-4" in sbatch[1] and "afterok:1000" in sbatch[1]


def test_glue_array_task_scores_one_size(cluster):
    calls = cluster(SHRUNK_STAGE="glue", SLURM_ARRAY_TASK_ID="1")
    assert [c.split()[:3] for c in calls if not c.startswith("hf-shrunk sizes")] == [["hf-shrunk", "glue", "size-1"]]


def test_push_needs_an_org(cluster, tmp_path):
    proc = subprocess.run(
        ["bash", "scripts/reproduce_paper.sh"], cwd=REPO, capture_output=True, text=True,
        env={**os.environ, "PUSH": "1", "ORG": "", "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
             "CALLS": str(tmp_path / "c.txt")},
    )  # fmt: skip
    assert proc.returncode == 2 and "ORG=" in proc.stderr
    assert json.dumps(proc.stdout)  # no stage ran before the check
    assert not (tmp_path / "c.txt").exists()


def test_runs_per_gpu_runs_grid_runs_side_by_side(cluster, tmp_path):
    """RUNS_PER_GPU=2: at most two grid runs at once, every run started, the fits after all of them."""
    standin = tmp_path / "bin" / "hf-shrunk"
    standin.write_text(
        standin.read_text()
        + """if [[ "$1" == pretrain ]]; then
  touch "$CALLS.active.$$"; sleep 0.1; n=$(ls "$CALLS".active.* 2>/dev/null | wc -l); echo "active $n" >> "$CALLS"
  sleep 0.3; rm "$CALLS.active.$$"
fi
"""
    )
    proc = subprocess.run(
        ["bash", "scripts/reproduce_paper.sh"], cwd=REPO, capture_output=True, text=True,
        env={**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "CALLS": str(tmp_path / "calls.txt"),
             "RUNS_PER_GPU": "2", "HF_SHRUNK_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    active = [int(c.split()[1]) for c in calls if c.startswith("active")]
    assert len(active) == 5 and max(active) == 2  # five grid runs, never more than two at once
    pretrained = {c.split("--size ")[1].split()[0] for c in calls if c.startswith("hf-shrunk pretrain")}
    assert pretrained == {f"size-{i}" for i in range(5)}
    fits = [i for i, c in enumerate(calls) if c.startswith("hf-shrunk fit")]
    assert fits and min(fits) > max(i for i, c in enumerate(calls) if c.startswith("hf-shrunk glue"))
