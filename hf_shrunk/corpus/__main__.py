"""``python -m hf_shrunk.corpus`` is ``hf-shrunk corpus``."""

from hf_shrunk.config import run_cli
from hf_shrunk.corpus import main

if __name__ == "__main__":
    run_cli(main, "corpus")
