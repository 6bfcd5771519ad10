"""``python -m hf_shrunk.models`` is ``hf-shrunk sizes``."""

from hf_shrunk.config import run_cli
from hf_shrunk.models import main

if __name__ == "__main__":
    run_cli(main, "sizes")
