"""Jobs on CPU lanes: subprocesses with dependencies, a few at a time, each with its share of the cores.

Small models do not keep two cores busy from one process: on the 2-core development machine a demo-size RoBERTa
(H=128, L=4) pretrained at 13.3K tokens/s with one thread and 17.7K with two, so two one-thread processes do 1.5x
the work of one two-thread process. ``hf-shrunk demo`` therefore runs its pretraining runs and GLUE workers as jobs
on two lanes: a job starts as soon as a lane is free and the jobs it needs are done. A *shared* job (a GLUE worker,
which takes fine-tunes by claim: hf_shrunk.glue.workers) may run on several lanes at once; once one of its
processes ends successfully no new one starts, and it is done when the last one ends. Each process writes to its
own log file; a failure stops the other jobs (pretraining and GLUE resume where they stopped) and is reported with
the log's last lines.
"""

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hf_shrunk.config import UserError


@dataclass
class Job:
    name: str
    command: Callable[[], tuple[list[str], dict[str, str]]]  # built when the job starts: (argv, environment)
    after: tuple[str, ...] = ()
    shared: bool = False
    show_last_line: bool = False  # print the log's last line when the job is done (e.g. pretraining's "done: ...")


@dataclass
class _Running:
    job: Job
    process: subprocess.Popen
    log: Path
    lane: int


class Lanes:
    """Run ``jobs`` (in their order of priority) on ``lanes`` lanes, logging each process under ``log_dir``."""

    def __init__(self, jobs: Sequence[Job], lanes: int, log_dir: Path, say: Callable[[str], None] = print):
        self.jobs, self.lanes, self.log_dir, self.say = list(jobs), lanes, log_dir, say
        self.done: set[str] = set()
        self.exhausted: set[str] = set()  # shared jobs that start no new process
        self.running: list[_Running] = []
        self.first_start: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.start = time.perf_counter()

    def run(self) -> dict[str, float]:
        """Run every job; returns each job's wall time (first start to last end). Raises :class:`UserError` when a
        process fails, after stopping the others."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            while len(self.done) < len(self.jobs):
                self._fill_lanes()
                if not self.running:
                    waiting = [j.name for j in self.jobs if j.name not in self.done]
                    raise UserError(f"jobs {waiting} wait for jobs that never run")  # a mistake in `after`
                self._reap(self._wait_for_exit())
        except KeyboardInterrupt:  # the processes got the terminal's Ctrl-C as well: let them stop cleanly
            self._stop_all(signal_them=False)
            raise
        except BaseException:
            self._stop_all(signal_them=True)
            raise
        return self.seconds

    def _next_job(self) -> Job | None:
        busy = {r.job.name for r in self.running}
        for job in self.jobs:
            if job.name in self.done or not set(job.after) <= self.done:
                continue
            if job.name not in busy or (job.shared and job.name not in self.exhausted):
                return job
        return None

    def _fill_lanes(self) -> None:
        while len(self.running) < self.lanes and (job := self._next_job()):
            lane = min(set(range(1, self.lanes + 1)) - {r.lane for r in self.running})
            copies = sum(r.job.name == job.name for r in self.running)
            log = self.log_dir / f"{job.name.replace(' ', '-')}{f'.{copies + 1}' if copies else ''}.log"
            argv, env = job.command()
            with open(log, "w") as out:
                # Ctrl-C's disposition restored: a demo started in the background of a script has SIGINT ignored,
                # and the lanes stop their processes with SIGINT (which pretraining turns into a clean stop)
                process = subprocess.Popen(
                    argv, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_default_sigint
                )
            self.running.append(_Running(job, process, log, lane))
            self.first_start.setdefault(job.name, time.perf_counter())
            self.say(f"  lane {lane}: {job.name} started (t+{self._elapsed():,.0f}s; log {log})")

    def _wait_for_exit(self) -> _Running:
        while True:
            for r in self.running:
                if r.process.poll() is not None:
                    return r
            time.sleep(0.2)

    def _reap(self, finished: _Running) -> None:
        self.running.remove(finished)
        name, code = finished.job.name, finished.process.returncode
        if code != 0:
            tail = "\n".join(finished.log.read_text(errors="replace").strip().splitlines()[-15:])
            raise UserError(f"{name} failed (exit {code}); its last lines:\n{tail}\nfull log: {finished.log}")
        self.exhausted.add(name)
        if not any(r.job.name == name for r in self.running):
            self.done.add(name)
            self.seconds[name] = time.perf_counter() - self.first_start[name]
            self.say(f"  lane {finished.lane}: {name} done in {self.seconds[name]:,.0f}s (t+{self._elapsed():,.0f}s)")
            if finished.job.show_last_line:
                self.say("    " + _last_line(finished.log))

    def _stop_all(self, signal_them: bool) -> None:
        """Stop the running processes as Ctrl-C does (SIGINT; SIGKILL after 60 s): pretraining resumes from its last
        complete checkpoint and GLUE keeps every stored result."""
        for r in self.running:
            if signal_them and r.process.poll() is None:
                r.process.send_signal(signal.SIGINT)
        for r in self.running:
            try:
                r.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                r.process.kill()

    def _elapsed(self) -> float:
        return time.perf_counter() - self.start


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").replace("\r", "\n").splitlines()]
    return next((line for line in reversed(lines) if line), "")


def lane_threads(lanes: int) -> int:
    """CPU threads for each of ``lanes`` lanes: the cores shared out, at least one."""
    return max(1, (os.cpu_count() or 1) // lanes)
