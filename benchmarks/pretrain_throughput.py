"""Pretraining throughput: hf_shrunk's Trainer path vs the stock Hugging Face path, in the same run.

stock     RobertaForMaskedLM + DataCollatorForLanguageModeling + Trainer, fp32, default optimizer — what
          transformers' run_mlm.py does.
hf_shrunk the same model and Trainer loop with hf_shrunk's levers: MLM head on masked positions only, bf16
          autocast where the hardware supports it (fp32 otherwise), seeded per-row masking, the paper's optimizer;
          on CPU cheap dropout masks with eager attention (--fast_dropout) and tcmalloc/jemalloc when installed;
          on CUDA dataloader workers and, with --compile, torch.compile.

Sizes (V = 19,010, 128 tokens): H=32/L=1, H=128/L=4, H=256/L=8 (tied RoBERTa, I = 4H, A = max(1, H/32)).
Each (path, size) runs in its own subprocess so peak memory (max RSS on CPU, max allocated on CUDA) is its own.

    python benchmarks/pretrain_throughput.py                 # all sizes, both paths
    python benchmarks/pretrain_throughput.py --sizes 128x4 --steps 30 --json out.json
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

SIZES = {"32x1": (32, 1), "128x4": (128, 4), "256x8": (256, 8)}
VOCAB, SEQ = 19_010, 128


def _dataset(n: int, seed: int = 0):
    import datasets
    import torch

    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (n, SEQ), generator=g)
    ids[:, 0], ids[:, -1] = 0, 2
    special = torch.zeros_like(ids)
    special[:, 0] = special[:, -1] = 1
    return datasets.Dataset.from_dict(
        {
            "input_ids": ids.tolist(),
            "attention_mask": torch.ones_like(ids).tolist(),
            "special_tokens_mask": special.tolist(),
        }
    )


def _tokenizer():
    from transformers import PreTrainedTokenizerFast

    from hf_shrunk.tokenizer import train_tokenizer

    tok = train_tokenizer(["the cat sat on the mat"] * 10, vocab_size=300, show_progress=False)
    assert isinstance(tok, PreTrainedTokenizerFast)
    return tok


class _Clock:
    """Times steps after the first ``warmup`` ones (compilation, allocator warm-up)."""

    def __init__(self, warmup: int):
        from transformers import TrainerCallback

        clock = self

        class Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == warmup:
                    clock.start = time.perf_counter()
                clock.end = time.perf_counter()

        self.callback, self.start, self.end, self.warmup = Callback(), None, None, warmup


def run_one(path: str, size: str, steps: int, batch: int, compile_model: bool) -> dict:
    import torch
    from transformers import (
        DataCollatorForLanguageModeling,
        RobertaConfig,
        RobertaForMaskedLM,
        Trainer,
        TrainingArguments,
    )

    from hf_shrunk.models import Size, build_config, build_model, use_fast_dropout
    from hf_shrunk.pretrain import (
        MaskSeedDataset,
        RunInfo,
        SeededMaskingCollator,
        ShrunkTrainer,
        choose_precision,
        set_cpu_threads,
        use_masked_positions_head,
    )

    on_gpu = torch.cuda.is_available()
    if not on_gpu:
        set_cpu_threads(None)
    H, L = SIZES[size]
    tok = _tokenizer()
    data = _dataset(batch * (steps + 2))
    clock = _Clock(warmup=3)
    out = tempfile.mkdtemp()
    common = dict(output_dir=out, per_device_train_batch_size=batch, max_steps=steps, save_strategy="no",
                  report_to="none", logging_strategy="no", disable_tqdm=True, learning_rate=5e-4, use_cpu=not on_gpu,
                  dataloader_pin_memory=on_gpu)  # fmt: skip
    if path == "stock":
        config = RobertaConfig(vocab_size=VOCAB, hidden_size=H, num_hidden_layers=L,
                               num_attention_heads=max(1, H // 32), intermediate_size=4 * H,
                               max_position_embeddings=130, type_vocab_size=2)  # fmt: skip
        model = RobertaForMaskedLM(config)
        trainer = Trainer(model=model, args=TrainingArguments(**common),
                          train_dataset=data.remove_columns("special_tokens_mask"),
                          data_collator=DataCollatorForLanguageModeling(tok, mlm_probability=0.15),
                          callbacks=[clock.callback])  # fmt: skip
    else:
        config = build_config(Size("roberta", H, H, 4 * H, max(1, H // 32), L), vocab_size=VOCAB)
        model = build_model(config, init="paper", seed=0)
        use_masked_positions_head(model)
        if not on_gpu:
            use_fast_dropout(model)
        # the paper profile's optimizer: no clipping, weight decay on every parameter in one AdamW group
        args = TrainingArguments(**common, remove_unused_columns=False, torch_compile=compile_model,
                                 dataloader_num_workers=2 if on_gpu else 0, max_grad_norm=0.0,
                                 weight_decay=0.01)  # fmt: skip

        class Precision:  # choose_precision reads these PretrainConfig fields
            precision = "auto"

        choose_precision(Precision, args)
        info = RunInfo(out, batch, SEQ, {"paper": 1, "corrected": 1}, set(), train_sequences=len(data),
                       total_steps=steps)  # fmt: skip
        trainer = ShrunkTrainer(model=model, args=args, train_dataset=MaskSeedDataset(data, 0), run_info=info,
                                data_collator=SeededMaskingCollator(tok), callbacks=[clock.callback],
                                decay_all_parameters=True)  # fmt: skip
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    seconds = clock.end - clock.start
    timed_steps = steps - clock.warmup
    peak = torch.cuda.max_memory_allocated() if on_gpu else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "path": path,
        "size": size,
        "tokens_per_second": timed_steps * batch * SEQ / seconds,
        "peak_memory_mb": peak / 2**20,
        "bf16": bool(trainer.args.bf16),
        "device": torch.cuda.get_device_name() if on_gpu else f"cpu x{torch.get_num_threads()} threads",
    }


def _environment(path: str) -> dict[str, str]:
    """The hf_shrunk path runs as `hf-shrunk pretrain` launches it: with tcmalloc/jemalloc preloaded when one is
    installed (HF_SHRUNK_ALLOCATOR=none turns that off); the stock path as run_mlm.py runs, with glibc's malloc."""
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
    env.pop("LD_PRELOAD", None)
    if path == "hf_shrunk":
        from hf_shrunk.pretrain.launch import allocator_library

        if allocator_library():
            env["LD_PRELOAD"] = allocator_library()
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps per measurement (first 3 untimed)")
    parser.add_argument("--batch", type=int, default=None, help="sequences per step (default 64 on CPU, 256 on GPU)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the hf_shrunk path")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--_one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._one:
        print(json.dumps(run_one(args._one[0], args._one[1], args.steps, args.batch, args.compile)))
        return
    import torch

    batch = args.batch or (256 if torch.cuda.is_available() else 64)
    rows = []
    for size in args.sizes:
        for path in ("stock", "hf_shrunk"):
            cmd = [sys.executable, __file__, "--_one", path, size, "--steps", str(args.steps), "--batch", str(batch)]
            cmd += ["--compile"] if args.compile else []
            proc = subprocess.run(cmd, capture_output=True, text=True, env=_environment(path))
            if proc.returncode:
                sys.exit(f"{path} {size} failed:\n{proc.stderr[-3000:]}")
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(
                f"  {path:>9} {size:>6}: {rows[-1]['tokens_per_second']:>10,.0f} tokens/s, "
                f"peak {rows[-1]['peak_memory_mb']:,.0f} MB",
                flush=True,
            )
    allocator = _environment("hf_shrunk").get("LD_PRELOAD", "glibc malloc")
    print(f"\ndevice: {rows[0]['device']}; batch {batch} x {SEQ}; bf16 on the hf_shrunk path: {rows[1]['bf16']}; "
          f"hf_shrunk allocator: {allocator}")  # fmt: skip
    print(f"{'size':>6} {'stock tok/s':>12} {'hf_shrunk tok/s':>16} {'ratio':>6} {'stock MB':>9} {'hf_shrunk MB':>13}")
    for size in args.sizes:
        stock, ours = (next(r for r in rows if r["size"] == size and r["path"] == p) for p in ("stock", "hf_shrunk"))
        ratio = ours["tokens_per_second"] / stock["tokens_per_second"]
        print(f"{size:>6} {stock['tokens_per_second']:>12,.0f} {ours['tokens_per_second']:>16,.0f} {ratio:>5.2f}x "
              f"{stock['peak_memory_mb']:>9,.0f} {ours['peak_memory_mb']:>13,.0f}")  # fmt: skip
        for r in (stock, ours):
            r["ratio_vs_stock"] = ratio if r is ours else 1.0
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"batch": batch, "seq_len": SEQ, "vocab": VOCAB, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
