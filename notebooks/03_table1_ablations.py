# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Table 1: what each module adds
#
# **What it tests.** Table 1 of the paper is an ablation: the same backbone (ResNet+ASPP) with the
# semantic segmentation branch (SSB), then the boundary detection branch (BDB), then the
# aggregation module (AM) added in turn (docs/method.md §6). Each row's gain over the row above is
# what that module adds.
#
# **What the paper reports.** Every module is a gain on Cityscapes val: +1.1, +0.4, +1.4 mIoU on
# ResNet-50 and +1.9, +0.8, +1.5 on ResNet-101 (79.20% for the full model), one run each.
#
# **How to read ours.** The notebook runs every missing run of the grid (variants × backbones ×
# seeds) by executing `02_training.ipynb` with papermill (each run keeps its executed notebook),
# then builds Table 1: mIoU mean ± std over seeds beside the paper's, each row's gain over the row
# above with the 95% Student-t interval of the per-seed paired differences, and the verdict that
# interval gives: *supported* (above 0), *contradicted* (below 0), *inconclusive* (spans 0, or one
# seed). Ours is a from-scratch ResNet-18 on SynthCity at a small width and a short schedule, so
# read the *direction* of each gain and its interval, not its size. Written to
# `tables/table1.{csv,md}`, `tables/runs.csv`, `tables/thin_classes.md`, `tables/per_class_iou.csv`,
# `tables/noise_floor.md`, the learning curves and `figures/table1_miou.png`.

# %% tags=["parameters"]
preset: str = "cpu"
# [] = every Table 1 variant (basnet_lib/model/variants.py)
variants: list = []
# [] = the preset's backbone
backbones: list = []
seeds: list = [0, 1, 2]
data_root: str = ""
# 0 = the preset's schedule
iterations: int = 0
# "" = the preset's: results/ for cpu, results/<preset>/ otherwise (docs/method.md §6.6)
results_root: str = ""
# where missing runs train: "local" (this machine) or "slurm" (one Slurm job per run through
# submitit; docs/usage.md "The grid on a Slurm cluster")
executor: str = "local"
# DDP per run over N GPUs or N CPU processes (gloo); 0 = one process per run
gpus_per_run: int = 0
processes_per_run: int = 0
# slurm only: nodes per run, partition, account, QOS, each job's time limit (minutes), node
# features, other sbatch options as "KEY=VALUE", runs at once (0 = no limit), resubmit failed jobs
nodes_per_run: int = 1
partition: str = ""
account: str = ""
qos: str = ""
time_minutes: int = 60
constraint: str = ""
sbatch: list = []
max_parallel_jobs: int = 0
resubmit_failed: bool = False
# True: the tables of the finished runs only, naming the missing ones (none is trained here)
partial: bool = False

# %%
from IPython.display import Image, display

from basnet_lib.reproduction.notebooks import start_notebook

# Each parameter is read as the type of its default above (papermill's -p passes "[0, 1]" as
# text) and a wrong one stops here; relative paths mean the repository root, also when
# JupyterLab starts in notebooks/.
globals().update(start_notebook("03_table1_ablations.ipynb", globals()))

# %%
from IPython.display import Markdown

from basnet_lib.reproduction.executors import grid_execution
from basnet_lib.reproduction.experiments import missing_runs_markdown, planned_runs
from basnet_lib.reproduction.grid_training import GridTraining, train_grid

grid = dict(preset_name=preset, data_root=data_root, iterations=iterations, results_root=results_root)
runs = planned_runs(variants=variants, backbones=backbones, seeds=seeds, **grid)
execution = grid_execution(
    executor,
    gpus_per_run=gpus_per_run,
    processes_per_run=processes_per_run,
    nodes_per_run=nodes_per_run,
    partition=partition,
    account=account,
    qos=qos,
    time_minutes=time_minutes,
    constraint=constraint,
    sbatch=sbatch,
    max_parallel_jobs=max_parallel_jobs,
)
# Slurm: the unfinished runs are submitted; until they finish this stops, naming them (partial=True
# goes on with the finished ones).
results = train_grid(runs, grid=grid, training=GridTraining(execution, resubmit_failed=resubmit_failed, partial=partial))
display(Markdown(missing_runs_markdown(runs, results)))

# %%

from basnet_lib.plots import save_figure, table1_bar_chart
from basnet_lib.reproduction.tables import paper_table1, runs_frame, table1, table1_markdown, write_table

tables_dir, figures_dir = results_root / "tables", results_root / "figures"
runs_table = runs_frame(results)
tables_dir.mkdir(parents=True, exist_ok=True)
runs_table.to_csv(tables_dir / "runs.csv", index=False)
table = table1(runs_table)
write_table(table, table1_markdown(table), tables_dir, "table1")
display(Markdown(table1_markdown(table)))

# %% [markdown]
# The bars: our mean mIoU per variant with the seeds' standard deviation, beside the paper's. The
# paper's bars rise step by step; ours test whether they rise in the same order.

# %%
figure = table1_bar_chart(table, paper=paper_table1())
save_figure(figure, figures_dir / "table1_miou.png")
display(Image(filename=str(figures_dir / "table1_miou.png")))

# %% [markdown]
# ## Thin classes
#
# mIoU averages 19 classes, so it can look fair while a model never predicts the thin ones (pole, traffic light, traffic sign, person are a few pixels wide at SynthCity's 256×512). Their IoU per variant, and on how many seeds it is 0:

# %%
from basnet_lib.reproduction.class_iou import per_class_iou, thin_class_markdown, thin_class_summary

per_class = per_class_iou(results)
per_class.to_csv(tables_dir / "per_class_iou.csv", index=False)
thin_markdown = thin_class_markdown(thin_class_summary(per_class))
(tables_dir / "thin_classes.md").write_text(thin_markdown)
display(Markdown(thin_markdown))

# %% [markdown]
# ## Noise floor
#
# The seed-to-seed spread of each variant, and per claim the smallest mean gain that these seeds could separate from zero: a gain below it is *inconclusive* however large the paper's.

# %%
from basnet_lib.reproduction.claims import claims, claims_markdown, noise_floor, noise_floor_markdown

floor = noise_floor(runs_table)
(tables_dir / "noise_floor.md").write_text(noise_floor_markdown(floor))
display(Markdown(noise_floor_markdown(floor)))
display(Markdown(claims_markdown(claims(runs_table))))

# %% [markdown]
# ## Learning curves
#
# Val metrics during training of every run (solid) and, where the recipe study ran them, the same recipe with 4× the steps (dashed): how far the committed runs are from the plateau of their recipe.

# %%
from basnet_lib.plots import learning_curves_plot
from basnet_lib.reproduction.learning_curves import plateau_gap, read_long_runs, validation_curves

curves = validation_curves(results)
curves.to_csv(tables_dir / "learning_curves.csv", index=False)
long_runs = read_long_runs(results_root)
save_figure(learning_curves_plot(curves, long_runs), figures_dir / "learning_curves.png")
display(Image(filename=str(figures_dir / "learning_curves.png")))
if long_runs is not None:
    gap = plateau_gap(curves, long_runs)
    (tables_dir / "plateau_gap.md").write_text(
        "Final val scores (%) of the committed runs (mean over seeds) and of the same recipe with more "
        "steps; gap = long − committed.\n\n" + gap.to_markdown(index=False, floatfmt=".2f") + "\n"
    )
    display(gap.round(2))
else:
    (tables_dir / "plateau_gap.md").unlink(missing_ok=True)  # an earlier study's table is not these runs'

# %% [markdown]
# ## The Aggregation Module's deficit: width or method?
#
# At the cpu preset's width C = 64 the AM's classifier sees C/4 + C/8 = 24 channels for 19 classes (96 at the paper's C = 256). Where the recipe study trained the full model with a wider decoder, it is compared here with the committed full and baseline runs of the same seeds.

# %%
from basnet_lib.reproduction.learning_curves import read_width_runs, width_comparison, width_summary

width_runs = read_width_runs(results_root)
if width_runs is not None:
    comparison = width_comparison(runs_table, width_runs)
    # seed and width are whole numbers; the scores two decimals
    floats = [".0f" if column in ("seed", "width") else ".2f" for column in comparison.columns]
    width_markdown = comparison.to_markdown(index=False, floatfmt=floats) + "\n\n" + width_summary(comparison) + "\n"
    (tables_dir / "width.md").write_text(width_markdown)
    display(Markdown(width_markdown))
else:
    (tables_dir / "width.md").unlink(missing_ok=True)  # an earlier study's table is not these runs'
