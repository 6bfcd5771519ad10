"""Fine-tune a published hf_shrunk model on SST-2 with a plain transformers Trainer (the paper's hyperparameters).

    python examples/finetune_sst2.py --max_train 2000        # a model of the demo's publish folder
    python examples/finetune_sst2.py <your-org>/shrunk-roberta-h256-i1024-a8-l8 --max_train 2000
Uses GLUE from $HF_SHRUNK_DATA_DIR if set (or --glue_dir), else downloads nyu-mll/glue.
"""

import argparse
import tempfile

import numpy as np
from demo_paths import default_model
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

from hf_shrunk import load_model, load_tokenizer
from hf_shrunk.glue import load_glue_metric
from hf_shrunk.sources import load_glue_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "model", nargs="?", default=None, help="Hub repo id or model folder (default: the demo's publish folder)"
    )
    parser.add_argument("--revision", default=None)
    parser.add_argument("--glue_dir", default=None, help="folder with sst2/<split>.parquet or SST-2/*.tsv")
    parser.add_argument("--max_train", type=int, default=None, help="fine-tune on a subset (faster on CPU)")
    parser.add_argument("--epochs", type=float, default=5.0)
    args = parser.parse_args()
    name = args.model or default_model()
    print(f"model: {name}")

    tokenizer = load_tokenizer(name, revision=args.revision)
    model = load_model(name, revision=args.revision, task="classification", num_labels=2)
    splits, tier = load_glue_task("sst2", args.glue_dir)
    if args.max_train:
        splits["train"] = splits["train"].shuffle(seed=0).select(range(min(args.max_train, len(splits["train"]))))
    encoded = splits.map(
        lambda b: tokenizer([s.lower() for s in b["sentence"]], truncation=True, max_length=128), batched=True
    )
    encoded = encoded.remove_columns(["sentence", "idx"])
    training = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="sst2-finetune-"), learning_rate=2e-4, per_device_train_batch_size=32,
        num_train_epochs=args.epochs, weight_decay=0.0, save_strategy="no", report_to="none", seed=0,
    )  # fmt: skip
    trainer = Trainer(model=model, args=training, train_dataset=encoded["train"],
                      data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer)  # fmt: skip
    trainer.train()
    logits = trainer.predict(encoded["validation"]).predictions
    scores = load_glue_metric("sst2").compute(
        predictions=np.argmax(logits, -1), references=encoded["validation"]["label"]
    )
    print(f"SST-2 validation accuracy: {scores['accuracy']:.4f} (GLUE data tier: {tier})")


if __name__ == "__main__":
    main()
