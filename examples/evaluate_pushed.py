"""Score a published checkpoint on GLUE in one call (vocabulary-filtered and full, against a random-init twin).

    python examples/evaluate_pushed.py --quick --tasks sst2     # a model of the demo's publish folder
    python examples/evaluate_pushed.py <your-org>/shrunk-roberta-h256-i1024-a8-l8 --revision step8000 --quick
Same as: hf-shrunk glue <your-org>/shrunk-roberta-h256-i1024-a8-l8@step8000 --baseline random-init
GLUE comes from --data_dir, else $HF_SHRUNK_DATA_DIR, else the Hub (nyu-mll/glue).
"""

import argparse

from demo_paths import default_model

from hf_shrunk import evaluate_pushed
from hf_shrunk.glue import format_summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "repo", nargs="?", default=None, help="Hub repo id or model folder (default: the demo's publish folder)"
    )
    parser.add_argument("--revision", default=None, help="branch such as step8000; default: main (final weights)")
    parser.add_argument("--tasks", nargs="+", default=["all"])
    parser.add_argument("--quick", action="store_true", help="1 seed, 1,000 training examples, 2 epochs (CPU)")
    parser.add_argument("--data_dir", default=None, help="GLUE folder: <task>/<split>.parquet or the TSV layout")
    parser.add_argument(
        "--vocab",
        default="model",
        help="vocabulary of the filtered condition: the model's (default) or auto|PATH|wordfreq:N",
    )
    args = parser.parse_args()
    repo = args.repo or default_model()
    print(f"model: {repo}")
    budget = {"seeds": ["0"], "max_train_samples": 1000, "num_epochs": 2.0} if args.quick else {}
    options = {"tasks": args.tasks, "baseline": "random-init", "data_dir": args.data_dir, "vocab": args.vocab}
    summary = evaluate_pushed(repo, revision=args.revision, **options, **budget)
    print(format_summary(summary))


if __name__ == "__main__":
    main()
