"""The Table 1 variants, one row each (docs/method.md §1.10, §6.1): the modules a variant has, the
paper's label and mIoU for it, the row its ablation claim compares it with, and its plot colour.

Everything that knows the variants (the model builder, ``ModelConfig``, the command line, the
experiment grid, Table 1, the claims, the charts) reads :data:`TABLE1_VARIANTS` through the
functions below when it is called, so adding a variant is adding a row here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Table 1's module columns, in the paper's order: semantic segmentation branch, boundary detection
# branch, aggregation module (docs/method.md §1.5, §1.6 and §1.8).
MODULES = ("SSB", "BDB", "AM")


@dataclass(frozen=True)
class Variant:
    """One Table 1 row.

    Attributes:
        name: what ``ModelConfig.variant``, run directories and tables call it.
        semantic_branch: has the SSB; without it the model is the backbone's DeepLabV3 head.
        boundary_branch: has the BDB (needs the SSB).
        aggregation: has the AM, which merges both branches (needs the BDB).
        paper_row: the row's label in the paper's Table 1.
        paper_miou: the paper's Table 1 mIoU (%) per backbone (empty: a row the paper lacks).
        compared_with: the variant the paper's ablation claims this one improves on (None for the
            baseline).
        color: the variant's colour in every figure (a matplotlib colour).
    """

    name: str
    semantic_branch: bool
    boundary_branch: bool
    aggregation: bool
    paper_row: str
    paper_miou: dict[str, float] = field(default_factory=dict, hash=False)  # a dict: not hashable
    compared_with: str | None = None
    color: str = "black"

    def __post_init__(self) -> None:
        if self.boundary_branch and not self.semantic_branch:
            raise ValueError(f"variant {self.name!r}: a boundary branch needs the semantic branch")
        if self.aggregation and not self.boundary_branch:
            raise ValueError(f"variant {self.name!r}: the aggregation module merges both branches")
        if self.compared_with == self.name:
            raise ValueError(f"variant {self.name!r} is compared with itself")

    @property
    def modules(self) -> tuple[str, ...]:
        """The :data:`MODULES` this row ticks."""
        switched_on = (self.semantic_branch, self.boundary_branch, self.aggregation)
        return tuple(module for module, on in zip(MODULES, switched_on, strict=True) if on)


# docs/method.md §1.10, §6.1: the paper's Table 1, coarse to complete; mIoU on Cityscapes val
# without augmentation.
# fmt: off
TABLE1_VARIANTS = (
    #       name        SSB    BDB    AM     paper's row           paper's mIoU (%) by backbone             compared with  colour
    Variant("baseline", False, False, False, "ResNet + ASPP",      {"resnet50": 74.21, "resnet101": 75.01}, None,          "tab:gray"),
    Variant("ssb",      True,  False, False, "+ SSB",              {"resnet50": 75.32, "resnet101": 76.94}, "baseline",    "tab:blue"),
    Variant("ssb_bdb",  True,  True,  False, "+ SSB + BDB",        {"resnet50": 75.71, "resnet101": 77.73}, "ssb",         "tab:orange"),
    Variant("full",     True,  True,  True,  "+ SSB + BDB + AM",   {"resnet50": 77.14, "resnet101": 79.20}, "ssb_bdb",     "tab:green"),
)
# fmt: on
# The pair of the paper's headline claims: the complete model against the baseline, standing for the
# paper's BASNet and DeepLabV3+ rows of Table 3 (docs/method.md §6.2).
BASELINE, FULL = "baseline", "full"


def table1_variants() -> tuple[Variant, ...]:
    """Every variant, in Table 1 order."""
    return TABLE1_VARIANTS


def variant_names() -> tuple[str, ...]:
    """The names of every variant, in Table 1 order."""
    return tuple(row.name for row in TABLE1_VARIANTS)


def variant_row(name: str) -> Variant:
    """The row of variant ``name``; a ValueError naming the variants for an unknown name."""
    for row in TABLE1_VARIANTS:
        if row.name == name:
            return row
    raise ValueError(f"unknown variant {name!r}; the variants are {', '.join(variant_names())}")


def variant_colors() -> dict[str, str]:
    """Each variant's plot colour, by name."""
    return {row.name: row.color for row in TABLE1_VARIANTS}


def reference_variant(name: str, *, present: list[str] | tuple[str, ...]) -> str | None:
    """The variant among ``present`` that ``name`` is compared with: its ``compared_with``, or when
    that one is missing, the one that one is compared with, and so on (None past the baseline)."""
    reference = variant_row(name).compared_with
    seen = {name}
    while reference is not None and reference not in present:
        if reference in seen:
            raise ValueError(f"variant {name!r}: compared_with goes round in a circle through {reference!r}")
        seen.add(reference)
        reference = variant_row(reference).compared_with
    return reference
