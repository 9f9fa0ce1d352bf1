"""Figures of the reproduction: table charts, Figs. 4/6/7 grids, and the predictions they show."""

from basnet_lib.plots.charts import (
    VARIANT_COLORS,
    fscore_tolerance_plot,
    per_class_fscore_heatmap,
    save_figure,
    table1_bar_chart,
)
from basnet_lib.plots.curves import learning_curves_plot
from basnet_lib.plots.grids import draw_explorer, figure4_probes, figure6_segmentation, figure7_boundaries
from basnet_lib.plots.predictions import (
    ValSamples,
    VariantPrediction,
    predict_run,
    predict_runs,
    segmentation_boundary,
)

__all__ = [
    "VARIANT_COLORS",
    "ValSamples",
    "VariantPrediction",
    "draw_explorer",
    "figure4_probes",
    "figure6_segmentation",
    "figure7_boundaries",
    "fscore_tolerance_plot",
    "learning_curves_plot",
    "per_class_fscore_heatmap",
    "predict_run",
    "predict_runs",
    "save_figure",
    "segmentation_boundary",
    "table1_bar_chart",
]
