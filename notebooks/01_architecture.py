# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Architecture
#
# Every Table 1 variant (docs/method.md §1.10) for the preset's backbone and width: parameters and
# FLOPs per component (ResNet, ASPP, laterals, SSB, BDB, AM) beside torchvision's DeepLabV3 of the
# same backbone (ResNet-50/101 at the paper's width), the tensor shapes through every block, and a
# drawn block diagram (Fig. 1). FLOPs count a multiply-add as 2 and are measured at
# `flops_height × flops_width` (the paper's 1024×2048 by default). The second half walks through the
# paper's §3 block by block: each block's equations, then what it computes on a SynthCity image.

# %% tags=["parameters"]
preset: str = "cpu"
# "" = the preset's
backbone: str = ""
# [] = every Table 1 variant (basnet_lib/model/variants.py)
variants: list = []
# at the paper's width, beside torchvision's DeepLabV3
reference_backbones: list = ["resnet50", "resnet101"]
flops_height: int = 1024
flops_width: int = 2048
data_root: str = ""
# "" = the preset's: results/ for cpu, results/<preset>/ otherwise (docs/method.md §6.6)
results_root: str = ""

# %%
from IPython.display import Image, display

from basnet_lib.reproduction.notebooks import start_notebook

# Each parameter is read as the type of its default above (papermill's -p passes "[0, 1]" as
# text) and a wrong one stops here; relative paths mean the repository root, also when
# JupyterLab starts in notebooks/.
globals().update(start_notebook("01_architecture.ipynb", globals()))

# %%
import dataclasses

from IPython.display import Markdown

from basnet_lib.plots import draw_block_diagram, save_figure
from basnet_lib.reproduction.architecture import architecture_table, block_shapes, pivot_components
from basnet_lib.reproduction.experiments import planned_run, planned_runs

out_dir = results_root / "architecture"
figures_dir = results_root / "figures"
runs = planned_runs(preset_name=preset, variants=variants, backbones=[backbone], data_root=data_root)
paper_width = [
    dataclasses.replace(run.model, backbone=name, width=256, aspp_channels=256, sab_probes=False)
    for name in reference_backbones
    for run in runs
]
table = architecture_table([run.model for run in runs] + paper_width, image_size=(flops_height, flops_width))
out_dir.mkdir(parents=True, exist_ok=True)
table.to_csv(out_dir / "components.csv", index=False)
params, flops = pivot_components(table, value="params_M"), pivot_components(table, value="GFLOPs")
markdown = [
    f"Parameters (millions)\n\n{params.round(3).to_markdown()}",
    f"GFLOPs\n\n{flops.round(1).to_markdown()}",
]
(out_dir / "components.md").write_text("\n\n".join(markdown) + "\n")
display(Markdown("**Parameters (millions) per component**"), params.round(3))
display(Markdown(f"**GFLOPs per {flops_height}×{flops_width} image**"), flops.round(1))

# %% [markdown]
# ## A forward pass on a SynthCity image: shapes through every block
#
# Each variant is built untrained (the shapes do not depend on the weights) and run on one val
# image; forward hooks record the input and output shapes of every block, in call order.

# %%
import pandas as pd
import torch

from basnet_lib.data.build import build_dataset
from basnet_lib.engine.evaluate import model_inputs
from basnet_lib.model import build_basnet

sample = build_dataset(runs[0].data, split="val", train=False)[0]
batch = {"image": sample["image"][None], "canny": sample["canny"][None]}
image, gradient_map = model_inputs(batch, torch.device("cpu"))
shapes = []
for run in runs:
    torch.manual_seed(0)
    model = build_basnet(config=run.model)
    variant_shapes = block_shapes(model, image, gradient_map)
    title = f"{run.model.variant} ({run.model.backbone}, C={run.model.width})"
    figure = draw_block_diagram(variant_shapes, title=title)
    save_figure(figure, figures_dir / f"architecture_{run.model.variant}.png")
    shapes.append(variant_shapes.assign(variant=run.model.variant))
shapes = pd.concat(shapes, ignore_index=True)
shapes.to_csv(out_dir / "shapes.csv", index=False)
print(f"input {sample['name']}: image {tuple(image.shape)}, gradient map G {tuple(gradient_map.shape)}")
shapes[shapes["variant"] == runs[-1].model.variant]

# %%
display(Image(filename=str(figures_dir / f"architecture_{runs[-1].model.variant}.png")))

# %% [markdown]
# ## The blocks of §3, one at a time
#
# The rest of this notebook follows one SynthCity val image through the decoder of the `full`
# variant. With notation of the paper's §3: $\mathbb{F}_l$ is the low-level feature a block
# receives from a backbone stage (after its 1×1 lateral projection to the decoder width $C$),
# $\mathbb{F}_h$ the high-level one from the block before (the backbone's ASPP for block 1),
# $\sigma$ the sigmoid, $[\cdot,\cdot]$ concatenation over channels and $\odot$ element-wise
# multiplication with broadcasting. The paper numbers none of §3's equations; each is cited by its
# section and figure, and each matches the code named beside it (`basnet_lib/model/`).
#
# The model is the trained one of `full`, seed 0, when that run is finished under `results_root`
# (after notebook 03 has run), and an untrained model of the preset otherwise: then the attention
# maps show what random weights make of the image, not what the network learned.

# %%
from IPython.display import Markdown

from basnet_lib.plots import figure_png
from basnet_lib.reproduction.block_walkthrough import trace_blocks, walkthrough_model

walk_run = planned_run(
    preset_name=preset, variant="full", backbone=backbone, data_root=data_root, results_root=results_root
)
walk_model, walk_source = walkthrough_model(walk_run)
walkthrough = trace_blocks(walk_model, image, gradient_map)
display(Markdown(f"Model: {walk_source}; image `{sample['name']}`, {tuple(image.shape[-2:])} pixels."))

# %% [markdown]
# ### The image-gradient map G (paper §3.1, Fig. 1 blue line; §3.3; docs/method.md §1.7)
#
# The boundary branch sees the image itself a second time, with its edges:
#
# $$G = \big[\,(I - \mu)/s,\ \operatorname{Canny}(I)\,\big] \in \mathbb{R}^{4 \times H \times W}$$
#
# three ImageNet-normalized colour channels ($\mu$, $s$: ImageNet mean and standard deviation) and
# a 0/1 Canny edge map (thresholds 10 and 100, as GSCNN). The paper writes it $\nabla I$ and gives
# it 4 channels. Each SAB receives $G$ at its own resolution: the colours resized bilinearly, the
# Canny map by max-pooling, so that one-pixel edges survive downsampling
# (`basnet_lib/gradient_map.py`: `image_gradient_map`, `resize_gradient_map`).

# %%
from basnet_lib.plots import gradient_map_figure

display(Image(data=figure_png(gradient_map_figure(walkthrough.gradient_map))))

# %% [markdown]
# ### Global Attention Block, GAB (paper §3.2, Fig. 2; docs/method.md §1.5)
#
# Three GABs make the semantic segmentation branch (SSB), coarse to fine: block 1 takes stage3 and
# the ASPP output, block 2 stage2 and block 1's output, block 3 stage1 (at 1/4 of the image) and
# block 2's output (at 1/8). Each GAB computes (`model/global_attention.py`):
#
# $$\mathbf{S} = \sigma\big(\operatorname{conv}_{1\times1}^{C\to1}(\mathbb{F}_l)\big) \in (0,1)^{1\times H\times W}$$
#
# $$\mathbf{A} = \sigma\big(\operatorname{conv}_{1\times1}^{2C\to C}([\operatorname{GAP}(\mathbb{F}_l),\ \operatorname{GAP}(\mathbb{F}_h)])\big) \in (0,1)^{C\times1\times1}$$
#
# $$\mathbb{F}_w = \mathbb{F}_l \odot \mathbf{A} \odot \mathbf{S}, \qquad
# \mathbb{F}_{up} = \operatorname{conv}_{1\times1}\big(\rho(\mathbb{F}_h)\big), \qquad
# \mathbb{F}_{gab} = \mathbb{F}_{up} + \mathbb{F}_w$$
#
# with $\rho$ the high-level upsampler (below). $\mathbf{S}$, from the low-level feature alone, says
# *where* to look (object shape and position); $\mathbf{A}$, from both stages' pooled channels, says
# *which channels* matter. The paper calls the
# channel attention $\mathbf{C}$ (here $\mathbf{A}$, to keep $C$ for the width); its text says the
# 1×1 conv compresses "to 1" yet gives the result $C$ channels, and a per-channel weight needs $C$,
# so the code has $C$ outputs. With one width $C$ everywhere the pooled vector has $2C$ channels
# (the paper's $3C$ counts a stage1 $\mathbb{F}_h$ of $2C$ channels).
#
# Below: $\mathbf{A}$ of each GAB as bars over the channels. Bars near 0.5 everywhere mean the
# block hardly selects; a trained block spreads them out.

# %%
from basnet_lib.plots import channel_attention_figure, spatial_attention_figure

display(Image(data=figure_png(channel_attention_figure(walkthrough.gabs))))
display(
    Image(
        data=figure_png(
            spatial_attention_figure(walkthrough.gabs, title="GAB spatial attention S = σ(conv1×1(F_l))")
        )
    )
)

# %% [markdown]
# ### The high-level upsampler ρ (paper §3.2 last paragraph, Figs. 2–3 captions; docs/method.md §1.4)
#
# In every block $\mathbb{F}_h$ reaches the output through the high-level upsampler $\rho$ (the
# figures' red line) and a 1×1 conv. Where $\mathbb{F}_l$ comes from stage1 (block 3, at twice the
# resolution of the others), $\rho$ is a 3×3 transposed convolution with stride 2 (then BatchNorm
# and ReLU) that brings $\mathbb{F}_h$ from 1/8 to 1/4 of the image:
#
# $$\rho(\mathbb{F}_h) = \operatorname{ReLU}\big(\operatorname{BN}(\operatorname{deconv}_{3\times3}^{\,s=2}(\mathbb{F}_h))\big)\ \text{in block 3}, \qquad \rho(\mathbb{F}_h) = \mathbb{F}_h\ \text{in blocks 1–2}$$
#
# (`model/layers.py`: `HighLevelUpsampler`). The rows below show, per SSB block, $\mathbb{F}_h$ as
# received, after $\rho$, and after the 1×1 projection ($\mathbb{F}_{up}$): only block 3 changes size.
# A transposed convolution with stride 2 covers the output pixels unevenly: an untrained one leaves
# a checkerboard in block 3, which training has to smooth out (notebook 05 measures it in the
# boundary maps).
# The SAB's upsamplers are the same kind of module with their own weights.

# %%
from basnet_lib.plots import red_line_figure

display(Image(data=figure_png(red_line_figure(walkthrough.gabs))))

# %% [markdown]
# ### Spatial Attention Block, SAB (paper §3.3, Fig. 3; docs/method.md §1.6)
#
# Three SABs make the boundary detection branch (BDB), in the same order as the GABs. A SAB has
# no channel attention; instead it fuses $\mathbb{F}_l$, $\rho(\mathbb{F}_h)$ and the
# gradient map $G$ (`model/spatial_attention.py`):
#
# $$\mathbf{S} = \sigma\big(\operatorname{conv}_{1\times1}^{C\to1}(\mathbb{F}_l)\big), \qquad
# \mathbb{F}'_w = \operatorname{conv}_{3\times3}^{(2C+4)\to C}\big([\mathbb{F}_l,\ \rho(\mathbb{F}_h),\ G]\big)$$
#
# $$\mathbb{F}_w = \mathbb{F}'_w \odot \mathbf{S}, \qquad
# \mathbb{F}_{sab} = \operatorname{conv}_{1\times1}\big(\rho(\mathbb{F}_h)\big) + \mathbb{F}_w$$
#
# ($\operatorname{conv}_{3\times3}$ with BatchNorm and ReLU; the paper's $3C+4$ input channels
# count $\mathbb{F}_h$ as $2C$, and its last addition is "as same as GAB", i.e. the projected
# $\mathbb{F}_h$.) $\mathbf{S}$ should light up near boundaries; the gradient map inside the 3×3
# conv helps the block tell object boundaries from texture edges. The output of the third SAB is
# $\mathbb{F}_{bdb}$.

# %%
display(
    Image(
        data=figure_png(
            spatial_attention_figure(walkthrough.sabs, title="SAB spatial attention S = σ(conv1×1(F_l)), per stage")
        )
    )
)

# %% [markdown]
# ### Aggregation Module, AM (paper §3.4, Fig. 5; docs/method.md §1.8)
#
# The AM merges the two branches' outputs into both predictions, with the same structure on each
# side (`model/aggregation.py`):
#
# $$T = \operatorname{ASPP}_{am}\big(\operatorname{conv}_{1\times1}^{2C\to C}([\mathbb{F}_{ssb},\ \mathbb{F}_{bdb}])\big) \in \mathbb{R}^{C/4\times H\times W}$$
#
# $$\mathbb{F}'_{ssb} = \operatorname{conv}_{1\times1}^{C\to C/8}\big(\operatorname{GAP}(\mathbb{F}_{ssb})\big), \qquad
# \mathbf{P}_s = \operatorname{up}\Big(\operatorname{conv}_{1\times1}^{\to K}\big([T,\ \operatorname{up}(\mathbb{F}'_{ssb})]\big)\Big)$$
#
# and $\mathbf{P}_b$ likewise from $T$ and $\mathbb{F}_{bdb}$ with one output channel. The inner
# $\operatorname{up}$ of a 1×1 vector is a broadcast over $H\times W$; the outer one is bilinear,
# ×4 to the image size. $T$ carries multi-scale context (ASPP rates 6, 12, 18) shared by both
# outputs; the pooled vector adds each branch's global context.
#
# Below: what every GAB and SAB outputs (the mean over its $C$ channels), the AM's fused feature and
# $T$, and the model's two outputs, $\mathbf{P}_s$ (argmax, Cityscapes colours) and $\sigma(\mathbf{P}_b)$.

# %%
from basnet_lib.plots import block_outputs_figure

display(Image(data=figure_png(block_outputs_figure(walkthrough))))
