"""``python -m hf_shrunk.pretrain`` is one training process; ``accelerate launch -m hf_shrunk.pretrain`` (what
``hf-shrunk pretrain`` runs) starts one per device."""

from hf_shrunk.config import run_cli
from hf_shrunk.pretrain import train_main

if __name__ == "__main__":
    run_cli(train_main, "python -m hf_shrunk.pretrain")
