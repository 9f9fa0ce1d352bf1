# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Figs. 4, 6, 7
#
# **What they test.** The paper's qualitative figures, on the same val images for every variant
# (docs/method.md §6): Fig. 4, the boundary map read out after each SAB by a 1×1 probe (paper §3.3
# last paragraph; docs/method.md §1.11); Fig. 6, the segmentation of each variant; Fig. 7, the
# boundary of each variant (for variants without a boundary head, the boundary of the predicted
# segmentation).
#
# **What the paper reports.** In Fig. 4 the boundaries go "from foggy to clearer" with each SAB; in
# Figs. 6–7 each added module corrects a misclassified region or sharpens an object's outline
# (marked with yellow circles on Cityscapes images).
#
# **How to read ours.** Look for the same trends, not the same pictures: probe maps that sharpen
# from SAB 1 to SAB 3, and outlines that follow the ground truth more closely from `baseline` to
# `full`. The PNGs are always saved; with `widgets = True` an interactive view follows (sliders over
# images and SAB stages, a variant selector), then a view of your own image. Papermill runs leave
# them off (docs/method.md §8).

# %% tags=["parameters"]
preset: str = "cpu"
# [] = every Table 1 variant (basnet_lib/model/variants.py)
variants: list = []
# "" = the preset's
backbone: str = ""
seed: int = 0
data_root: str = ""
# 0 = the preset's schedule
iterations: int = 0
# "" = the preset's: results/ for cpu, results/<preset>/ otherwise (docs/method.md §6.6)
results_root: str = ""
# True: the finished runs only, naming the missing ones (a partial report; none is trained here)
partial: bool = False
num_images: int = 3
# interactive view in JupyterLab; False under papermill
widgets: bool = True

# %%
from IPython.display import Image, Markdown, display

from basnet_lib.reproduction.notebooks import start_notebook

# Each parameter is read as the type of its default above (papermill's -p passes "[0, 1]" as
# text) and a wrong one stops here; relative paths mean the repository root, also when
# JupyterLab starts in notebooks/.
globals().update(start_notebook("05_figures.ipynb", globals()))

# %%
from basnet_lib.plots import figure4_probes, figure6_segmentation, figure7_boundaries, save_figure
from basnet_lib.reproduction.experiments import (
    finished_results,
    missing_runs_markdown,
    planned_runs,
    train_unfinished_runs_in_notebooks,
)
from basnet_lib.reproduction.predictions import predict_runs

grid = dict(preset_name=preset, data_root=data_root, iterations=iterations, results_root=results_root)
runs = planned_runs(variants=variants, backbones=[backbone], seeds=[seed], **grid)
# partial: the finished runs only (a partial report), naming the missing ones; none is trained
results = finished_results(runs) if partial else train_unfinished_runs_in_notebooks(runs, **grid)
display(Markdown(missing_runs_markdown(runs, results)))
samples, predictions = predict_runs([result.run_dir for result in results], count=num_images)
figures_dir = results_root / "figures"
saved = {
    "fig6_segmentation.png": figure6_segmentation(samples, predictions),
    "fig7_boundaries.png": figure7_boundaries(samples, predictions),
}
with_probes = [prediction for prediction in predictions.values() if prediction.probes is not None]
if with_probes:
    saved["fig4_sab_probes.png"] = figure4_probes(samples, with_probes[-1])
for name, figure in saved.items():
    save_figure(figure, figures_dir / name)
    display(Image(filename=str(figures_dir / name)))

# %% [markdown]
# ## Checkerboard artefacts
#
# The third SAB's high-level upsampler is a 3×3 transposed convolution with stride 2, whose kernel overlaps unevenly: an untrained boundary map shows a period-8 pattern (period 2 at 1/4 resolution, ×4 upsampled). The strength below is the share of each map's fine detail (the map minus its local 8×8 mean) that follows the pixel's position modulo 8 (1 for a pure pattern, ~0 for none), beside the same number for the ground-truth edges.

# %%
import pandas as pd
from IPython.display import Markdown

from basnet_lib.reproduction.boundary_tables import periodic_pattern_strength

strength = pd.DataFrame(
    [{"map": "ground-truth edges", "strength": periodic_pattern_strength(samples.edges.astype(float))}]
    + [
        {"map": f"{name} boundary output", "strength": periodic_pattern_strength(prediction.boundary)}
        for name, prediction in predictions.items()
        if not prediction.boundary_from_segmentation
    ]
)
checkerboard_markdown = (
    f"Period-8 pattern strength of the boundary maps on the {len(samples.names)} images of Fig. 7 (seed {seed}).\n\n"
    + strength.to_markdown(index=False, floatfmt=".3f") + "\n"
)
(results_root / "tables").mkdir(parents=True, exist_ok=True)
(results_root / "tables" / "checkerboard.md").write_text(checkerboard_markdown)
display(Markdown(checkerboard_markdown))

# %% [markdown]
# ## Interactive view (`widgets = True`)

# %%
if widgets:
    from basnet_lib.reproduction.widgets import prediction_explorer

    explorer = prediction_explorer(samples, predictions)
    display(explorer.widget)

# %% [markdown]
# ## Your own image
#
# Upload a PNG or JPEG, or type its path and press Enter: the chosen run's model predicts it and shows what `basnet predict` writes (trainIds, Cityscapes colours, boundary, overlay; at the photo's own size, the model seeing it with its long side at `long side` pixels, 0 = as it is) and, for a run with SAB probes, the probe map of each stage (Fig. 4). Building the view loads no model, so a papermill run pays nothing for it; the widget shows with `widgets = True`.

# %%
from basnet_lib.reproduction.widgets import own_image_view

own_image = own_image_view([result.run_dir for result in results])
if widgets:
    display(own_image.widget)
