"""Step arithmetic of a pretraining run, in pure Python (docs/paper.md#pretraining-recipe): how many updates an epoch
takes, how many corpus sequences a step has seen, and which steps are evaluated and kept as snapshots.

An epoch of N sequences in batches of B is ⌈N / B⌉ updates, the last one on the N mod B sequences left over (the
paper: ⌈9,081,490 / 256⌉ = 35,475 updates, the last on 146 sequences). ``transformers.Trainer`` counts the same way
(its dataloader keeps the partial batch; ⌈⌈N / micro⌉ / processes⌉ / accumulation⌉ = ⌈N / B⌉), and the trainer checks
that it agrees before the first update.
"""

import math

from hf_shrunk.config import ConfigError


def updates_for(sequences: int, batch: int, epochs: float = 1.0) -> int:
    """Optimizer updates of ``epochs`` passes over ``sequences`` in batches of ``batch`` (a partial last batch is an
    update), rounded up for a fractional number of epochs as the Trainer does: ``updates_for(9_081_490, 256)`` is
    35,475."""
    if sequences < 1 or batch < 1:
        raise ConfigError(f"need at least one sequence and a positive batch, got {sequences} and {batch}")
    return math.ceil(-(-sequences // batch) * epochs)


def paper_warmup(total_steps: int) -> int:
    """The paper's warm-up, min(4,000, 5% of the updates), with a floor of 1 update: below 20 updates 5% rounds down
    to 0, where the paper's lr(t) = 5e-4·√w·min(t^-½, t·w^-1.5) is 0 at every step (and transformers' inverse_sqrt
    schedule would fall back to a 10,000-step timescale). docs/paper.md#differences, item 18."""
    return max(1, min(4000, int(0.05 * total_steps)))


def sequences_seen(step: int, sequences: int, batch: int) -> int:
    """Corpus sequences trained on after ``step`` updates: full batches, except the last update of each epoch, which
    has only the sequences left over."""
    per_epoch = updates_for(sequences, batch)
    epochs, rest = divmod(step, per_epoch)
    return epochs * sequences + min(rest * batch, sequences)


def sequences_in_update(step: int, sequences: int, batch: int) -> int:
    """Sequences in update number ``step`` (1-based): ``batch``, or fewer for an epoch's last update."""
    return sequences_seen(step, sequences, batch) - sequences_seen(step - 1, sequences, batch)


def parse_snapshot_steps(spec: str, total_steps: int) -> set[int]:
    """``"pow2:512,every:1000,1500"`` -> {0, 1, 2, 4, ..., 512, 1000, 1500, 2000, ...} up to ``total_steps``.

    Step 0 (the initialisation, before the first update: the random-init baseline) and the last step are always
    kept."""
    steps = {0, total_steps}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kind, _, value = item.partition(":")
        try:
            number = int(value or kind)
        except ValueError:
            raise ConfigError(f"--snapshot_steps: cannot read {item!r}; use N, pow2:N or every:N") from None
        if kind == "pow2":
            steps |= {2**k for k in range(number.bit_length()) if 2**k <= number}
        elif kind == "every":
            steps |= set(range(number, total_steps + 1, number))
        elif not value:
            steps.add(number)
        else:
            raise ConfigError(f"--snapshot_steps: unknown item {item!r}; use N, pow2:N or every:N")
    return {s for s in steps if 0 <= s <= total_steps}


def evaluation_steps(total_steps: int, eval_steps: int | None, snapshot_steps: set[int]) -> list[int]:
    """Every step whose weights are evaluated on the dev set: the regular cadence (every ``eval_steps`` updates;
    None: no cadence), every snapshot (step 0 included) and the last step."""
    cadence = set(range(eval_steps, total_steps + 1, eval_steps)) if eval_steps else set()
    return sorted(cadence | {s for s in snapshot_steps if s <= total_steps} | {total_steps})


def eval_cadence(strategy: str, eval_steps: float | None, total_steps: int) -> int | None:
    """The Trainer's evaluation interval in updates (``eval_strategy="steps"``; a fraction < 1 of ``eval_steps`` is
    a share of the run, rounded up as the Trainer does), or None when it does not evaluate on a cadence."""
    if str(strategy).rsplit(".", 1)[-1].lower() != "steps" or not eval_steps:
        return None
    if eval_steps < 1:
        return max(1, math.ceil(total_steps * eval_steps))
    return int(eval_steps)


def best_loss_so_far(log_history: list[dict], step: int) -> float:
    """The lowest dev loss of a training history up to ``step`` (step 0, the initialisation, excluded): what the best
    checkpoint holds when a run resumes at ``step``."""
    losses = [h["eval_loss"] for h in log_history if "eval_loss" in h and 0 < h.get("step", 0) <= step]
    return min(losses, default=float("inf"))
