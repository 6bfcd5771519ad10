"""The scaling stage (``hf-shrunk fit``): points from pretraining runs, the compute-optimal frontier, power-law and
broken-power-law fits, correlations with GLUE, plots."""

from hf_shrunk.scaling.config import FitConfig
from hf_shrunk.scaling.run import load_fit, main, position_on_fit, predict_loss, run_fit, summary_lines

__all__ = ["FitConfig", "load_fit", "main", "position_on_fit", "predict_loss", "run_fit", "summary_lines"]
