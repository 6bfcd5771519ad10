"""``python -m hf_shrunk.glue`` is ``hf-shrunk glue``."""

from hf_shrunk.config import run_cli
from hf_shrunk.glue import main

if __name__ == "__main__":
    run_cli(main, "glue")
