"""``python -m hf_shrunk.sources`` is ``hf-shrunk data``."""

from hf_shrunk.config import run_cli
from hf_shrunk.sources import main

if __name__ == "__main__":
    run_cli(main, "data")
