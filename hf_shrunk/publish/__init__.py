"""The publish stage (``hf-shrunk publish``, ``hf-shrunk publish verify``): the only code that writes to the Hub."""

from hf_shrunk.publish.config import PublishConfig, VerifyConfig
from hf_shrunk.publish.push import main

__all__ = ["PublishConfig", "VerifyConfig", "main"]
