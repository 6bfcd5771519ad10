"""Fill in masked words with a published hf_shrunk model (a local `hf-shrunk publish --to_dir` folder or the Hub).

python examples/fill_mask.py            # a model of the demo's publish folder (run `hf-shrunk demo` first)
python examples/fill_mask.py ~/.cache/hf_shrunk/demo/publish/models/shrunk-roberta-h128-i512-a4-l4/main
python examples/fill_mask.py <your-org>/shrunk-roberta-h256-i1024-a8-l8 --revision step8000
"""

import argparse

from demo_paths import default_model
from transformers import pipeline

import hf_shrunk  # noqa: F401 - registers the factorized family, so no remote code is needed

SENTENCES = [
    "the little dog <mask> the ball .",
    "we went to the <mask> to buy some milk .",
    "she put on her coat because it was <mask> outside .",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "model", nargs="?", default=None, help="Hub repo id or model folder (default: the demo's publish folder)"
    )
    parser.add_argument("--revision", default=None, help="Hub branch, e.g. step8000 (an intermediate checkpoint)")
    parser.add_argument("--top_k", type=int, default=5)
    args = parser.parse_args()
    model = args.model or default_model()
    print(f"model: {model}")
    fill = pipeline("fill-mask", model=model, revision=args.revision, top_k=args.top_k)
    for sentence in SENTENCES:
        guesses = ", ".join(f"{p['token_str'].strip()} ({p['score']:.2f})" for p in fill(sentence))
        print(f"{sentence}\n  -> {guesses}")


if __name__ == "__main__":
    main()
