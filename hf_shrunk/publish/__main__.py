"""``python -m hf_shrunk.publish`` is ``hf-shrunk publish``."""

from hf_shrunk.config import run_cli
from hf_shrunk.publish import main

if __name__ == "__main__":
    run_cli(main, "publish")
