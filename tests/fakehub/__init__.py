"""A small Hugging Face Hub-compatible HTTP server for hermetic tests (docs/design.md#testing).

The real, unmodified huggingface_hub / transformers / datasets clients talk to it through ``HF_ENDPOINT``.
Use it through the ``fakehub`` pytest fixture (``fixtures.py``).
"""

from .server import FakeHub
from .storage import HubError

__all__ = ["FakeHub", "HubError"]
