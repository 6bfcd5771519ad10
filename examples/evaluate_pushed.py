"""Score a pushed checkpoint on GLUE in one call (vocabulary-filtered and full, against a random-init twin).

    python examples/evaluate_pushed.py hf-shrunk/shrunk-roberta-h256-i1024-a8-l8 --revision step8000 --quick
Same as: hf-shrunk glue hf-shrunk/shrunk-roberta-h256-i1024-a8-l8@step8000 --baseline random-init
"""

import argparse

from hf_shrunk import evaluate_pushed
from hf_shrunk.glue import format_summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", help="Hub repo id (or a local model folder)")
    parser.add_argument("--revision", default=None, help="branch such as step8000; default: main (final weights)")
    parser.add_argument("--tasks", nargs="+", default=["all"])
    parser.add_argument("--quick", action="store_true", help="1 seed, 1,000 training examples, 2 epochs (CPU)")
    args = parser.parse_args()
    budget = {"seeds": ["0"], "max_train_samples": 1000, "num_epochs": 2.0} if args.quick else {}
    summary = evaluate_pushed(args.repo, revision=args.revision, tasks=args.tasks, baseline="random-init", **budget)
    print(format_summary(summary))


if __name__ == "__main__":
    main()
