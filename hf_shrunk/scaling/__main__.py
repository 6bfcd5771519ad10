"""``python -m hf_shrunk.scaling`` is ``hf-shrunk fit``."""

from hf_shrunk.config import run_cli
from hf_shrunk.scaling import main

if __name__ == "__main__":
    run_cli(main, "fit")
