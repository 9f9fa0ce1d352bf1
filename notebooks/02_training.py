# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · One training run
#
# Trains one Table 1 variant through the library (`basnet_lib.engine.train`), evaluates it on val
# (mIoU and boundary F at 3/5/9 px, docs/method.md §5) and keeps the run directory (docs/method.md
# §8): `config.json`, `metrics.json`, `history.csv`, `checkpoint.pt`, `training_curves.png`. A
# finished run with the same config is reused. `03_table1_ablations.ipynb` executes this notebook
# once per run and saves the executed copy in the run directory.

# %% tags=["parameters"]
preset: str = "cpu"
variant: str = "full"
# "" = the preset's
backbone: str = ""
seed: int = 0
# "" = SynthCity; a Cityscapes-layout folder otherwise
data_root: str = ""
# 0 = the preset's schedule
iterations: int = 0
# "" = the preset's: results/ for cpu, results/<preset>/ otherwise (docs/method.md §6.6)
results_root: str = ""
# tqdm bars; papermill runs pass False (docs/method.md §8)
progress: bool = True
overwrite: bool = False

# %%
from IPython.display import Image, Markdown, display

from basnet_lib.reproduction.notebooks import start_notebook

# Each parameter is read as the type of its default above (papermill's -p passes "[0, 1]" as
# text) and a wrong one stops here; relative paths mean the repository root, also when
# JupyterLab starts in notebooks/.
globals().update(start_notebook("02_training.ipynb", globals()))

# %%
from basnet_lib.engine import train
from basnet_lib.engine.config_io import config_to_dict
from basnet_lib.engine.runtime import reuse_freed_memory
from basnet_lib.reproduction.experiments import planned_run

# Process-wide, asked for here: glibc keeps freed feature maps for reuse (speed only, no value changes).
reuse_freed_memory()

run = planned_run(
    preset_name=preset,
    variant=variant,
    backbone=backbone,
    seed=seed,
    data_root=data_root,
    iterations=iterations,
    results_root=results_root,
)
print(run.run_dir)
config_to_dict(run)

# %% [markdown]
# Training starts the run, or resumes it from its checkpoint (`resume="auto"`; `overwrite = True`
# starts it again). Interrupting the kernel, or stopping `basnet reproduce`, lets the run finish its
# step and write a checkpoint first (a second interrupt stops it at once): this cell, or the same
# command, then continues it.

# %%
from basnet_lib.engine.stop import NOTEBOOK_STOP_SIGNALS, StopRequest

with StopRequest.on_signals(NOTEBOOK_STOP_SIGNALS) as stop:
    result = train(run, progress=progress, overwrite=overwrite, resume=False if overwrite else "auto", stop=stop)
print(("reused " if result.reused else "trained ") + str(result.run_dir))

# %% [markdown]
# ## The loss it minimized (paper §4.2, Eq. 1; docs/method.md §3)
#
# The paper trains with two supervisions on the final outputs:
#
# $$L_{total} = L_{seg} + \lambda \, L_{edge} \qquad \text{(Eq. 1)}$$
#
# $L_{seg}$ is the cross-entropy of the segmentation logits against the trainIds (unlabelled pixels
# ignored); $L_{edge}$ the class-balanced binary cross-entropy of GSCNN on the boundary logits
# against the edge target (positives weighted by the share of negatives in the batch and vice
# versa, since boundary pixels are rare). The paper sets $\lambda = 0.05$; the cpu preset uses
# $\lambda = 3$ (docs/decisions.md "Second round"). Variants without a boundary output
# (`baseline`, `ssb`) have $L_{edge} = 0$. Runs with SAB probes (Fig. 4) add the probes' own
# balanced BCE with weight 1; the probes see detached features, so that term trains only the probe
# heads and leaves the model as it is (`basnet_lib/loss.py`).
#
# `history.csv` logs every term unweighted, averaged over each logging window; the table checks that
# the logged total is the weighted sum.

# %%
import pandas as pd

history = pd.read_csv(result.run_dir / "history.csv")
edge_weight = result.config.loss.edge_weight
terms = history[["iteration", "seg", "edge", "probes", "total"]].copy()
terms["seg + λ·edge + probes"] = terms["seg"] + edge_weight * terms["edge"] + terms["probes"]
display(Markdown(f"λ = {edge_weight} for this run ({result.config.model.variant})."))
terms.iloc[[0, len(terms) // 2, -1]].round(4)

# %% [markdown]
# ## Training curves and metrics
#
# `training_curves.png`: left, each loss term over the training steps (log scale; a flat $L_{edge}$
# while $L_{seg}$ falls means the boundary head learns slowly); middle, the learning rate (the
# paper's "poly" schedule); right, when the run evaluated during training, the val scores.

# %%
from basnet_lib.reproduction.tables import run_scores

display(Image(filename=str(result.run_dir / "training_curves.png")))
summary = {
    "mIoU (%)": 100 * result.metrics["mIoU"],
    **{f"boundary F @{key} (%)": 100 * value for key, value in result.metrics["boundary_F"].items()},
    "train images/s": result.metrics["images_per_second"],
    "eval seconds": result.metrics["eval_seconds"],
}
display(pd.Series(summary).round(2).to_frame("value"))
history.tail()

# %% [markdown]
# ## Validation during training
#
# With `eval_every` set (the cpu preset evaluates four times per run), each evaluation adds a row
# of val metrics (%) to `history.csv`: mIoU, GSCNN's boundary F at 3/5/9 px, and, for variants with
# a boundary output, the boundary map's own ODS F and average precision against the edge target.
# The last row is the final evaluation on the whole val set. Scores still rising at the last row
# mean the schedule ended before the plateau (notebook 03 compares with runs 4× as long).

# %%
from basnet_lib.reproduction.learning_curves import validation_curves

validation_curves([result]).round(2)

# %% [markdown]
# The run's final scores (%), as they enter Tables 1 and 3:

# %%
run_scores(result.metrics).round(1)
