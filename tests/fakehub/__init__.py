"""A small Hugging Face Hub-compatible HTTP server for hermetic tests (DESIGN.md §7).

The real, unmodified huggingface_hub / transformers / datasets clients talk to it through ``HF_ENDPOINT``.
Use it through the ``fakehub`` pytest fixture (``fixtures.py``).
"""

from .server import FakeHub
from .storage import HubError

__all__ = ["FakeHub", "HubError"]
