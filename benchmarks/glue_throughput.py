"""GLUE fine-tuning throughput: hf_shrunk's GLUE stage vs a run_glue.py-style Trainer, in the same run.

run_glue  every example padded to 128 tokens (run_glue.py's --pad_to_max_length), Trainer, fp32
hf_shrunk the GLUE stage's own code path (hf_shrunk.glue.run.training_arguments / _collator / tokenized_task /
          use_speed_levers): dynamic padding, evaluation set sorted by length, on CPU cheap dropout masks with eager
          attention (--fast_dropout); fp32 (the paper's protocol) and, as an extra row, bf16 autocast

Same model (a randomly initialised demo-grid RoBERTa, H=128, L=4, V=8,010), same SST-2 examples, same batch (32),
same number of optimizer steps. Needs SST-2: $HF_SHRUNK_DATA_DIR (the mirror) or --data_dir.

    python benchmarks/glue_throughput.py --steps 150
"""

import argparse
import json
import time


def setup(data_dir: str | None, n_train: int):
    import tempfile

    from hf_shrunk.glue import TASKS, tokenized_task
    from hf_shrunk.sources import load_glue_task
    from hf_shrunk.tokenizer import train_tokenizer

    splits, tier = load_glue_task("sst2", data_dir)
    splits["train"] = splits["train"].shuffle(seed=0).select(range(min(n_train, len(splits["train"]))))
    tokenizer = train_tokenizer([s.lower() for s in splits["train"]["sentence"]], vocab_size=8000, show_progress=False)
    root = tempfile.mkdtemp(prefix="glue_bench_")  # the tokenization cache of this run only
    data = {
        pad: tokenized_task(TASKS["sst2"], "full", splits, tokenizer, None, f"bench-{tier}", 128, pad, root=root)
        for pad in (False, True)
    }
    return tokenizer, data


def measure(tokenizer, data, pad: bool, bf16: bool, steps: int) -> dict:
    import tempfile

    import torch
    from transformers import Trainer, set_seed

    from hf_shrunk.glue import GlueConfig
    from hf_shrunk.glue.run import _collator, training_arguments, use_speed_levers
    from hf_shrunk.models import Size, build_config, build_model

    torch.set_num_threads(torch.get_num_threads())
    set_seed(0)
    config = build_config(Size("roberta", 128, 128, 512, 4, 4), tokenizer)
    model = build_model(config, task="classification", seed=0, num_labels=2)
    cfg = GlueConfig(model="bench", pad_to_max_length=pad, precision="bf16" if bf16 else "fp32")
    if not pad:  # the run_glue.py path stays stock
        use_speed_levers(model, cfg)
    with tempfile.TemporaryDirectory() as tmp:
        args = training_arguments(cfg, 0, tmp)
        args.max_steps = steps
        trainer = Trainer(
            model=model, args=args, train_dataset=data["train"], data_collator=_collator(tokenizer, pad, 128)
        )
        start = time.perf_counter()
        trainer.train()
        train_seconds = time.perf_counter() - start
        start = time.perf_counter()
        trainer.predict(data["validation"])
        eval_seconds = time.perf_counter() - start
    return {
        "path": "run_glue (pad to 128)" if pad else f"hf_shrunk ({'bf16' if bf16 else 'fp32'})",
        "train_samples_per_second": steps * cfg.batch_size / train_seconds,
        "eval_samples_per_second": len(data["validation"]) / eval_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=150, help="optimizer steps per measurement (batch 32)")
    parser.add_argument("--data_dir", default=None, help="GLUE folder (default: the mirror in $HF_SHRUNK_DATA_DIR)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    tokenizer, data = setup(args.data_dir, n_train=args.steps * 32)
    rows = [
        measure(tokenizer, data[True], pad=True, bf16=False, steps=args.steps),
        measure(tokenizer, data[False], pad=False, bf16=False, steps=args.steps),
        measure(tokenizer, data[False], pad=False, bf16=True, steps=args.steps),
    ]
    base = rows[0]
    print(f"SST-2, {args.steps} steps of 32, RoBERTa H=128 L=4, V={len(tokenizer) + 10}")
    print(f"{'path':<24} {'train samples/s':>16} {'ratio':>6} {'eval samples/s':>15} {'ratio':>6}")
    for row in rows:
        row["train_ratio"] = row["train_samples_per_second"] / base["train_samples_per_second"]
        row["eval_ratio"] = row["eval_samples_per_second"] / base["eval_samples_per_second"]
        print(
            f"{row['path']:<24} {row['train_samples_per_second']:>16,.0f} {row['train_ratio']:>5.2f}x "
            f"{row['eval_samples_per_second']:>15,.0f} {row['eval_ratio']:>5.2f}x"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
