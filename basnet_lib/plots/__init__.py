"""The drawing library: bare matplotlib figures of tables, curves, image grids and the block diagram.

It imports only core modules (``data.labels``; ``model.variants`` for each variant's colour); what a
figure shows comes in as arguments, so the engine (training curves) and the reproduction (tables,
Figs. 1/4/6/7) both draw with it.
"""

from basnet_lib.plots.block_diagram import draw_block_diagram
from basnet_lib.plots.block_walkthrough import (
    block_outputs_figure,
    channel_attention_figure,
    gradient_map_figure,
    red_line_figure,
    spatial_attention_figure,
)
from basnet_lib.plots.charts import (
    figure_png,
    fscore_tolerance_plot,
    per_class_fscore_heatmap,
    save_figure,
    table1_bar_chart,
)
from basnet_lib.plots.curves import learning_curves_plot, plot_training_curves
from basnet_lib.plots.grids import (
    ValSamples,
    VariantPrediction,
    draw_explorer,
    figure4_probes,
    figure6_segmentation,
    figure7_boundaries,
)

__all__ = [
    "ValSamples",
    "VariantPrediction",
    "block_outputs_figure",
    "channel_attention_figure",
    "draw_block_diagram",
    "draw_explorer",
    "figure4_probes",
    "figure6_segmentation",
    "figure7_boundaries",
    "figure_png",
    "fscore_tolerance_plot",
    "gradient_map_figure",
    "learning_curves_plot",
    "per_class_fscore_heatmap",
    "plot_training_curves",
    "red_line_figure",
    "save_figure",
    "spatial_attention_figure",
    "table1_bar_chart",
]
