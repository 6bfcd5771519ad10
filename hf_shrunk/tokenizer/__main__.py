"""``python -m hf_shrunk.tokenizer`` is ``hf-shrunk tokenizer``."""

from hf_shrunk.config import run_cli
from hf_shrunk.tokenizer import main

if __name__ == "__main__":
    run_cli(main, "tokenizer")
