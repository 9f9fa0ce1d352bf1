"""BASNet model (docs/method.md §1): config, the Table 1 variants, blocks, and the builder."""

from basnet_lib.model.aggregation import AggregationModule
from basnet_lib.model.aspp import ASPP, DeepLabV3Head
from basnet_lib.model.backbone import DilatedResNetBackbone, build_backbone
from basnet_lib.model.basnet import BASNet, build_basnet
from basnet_lib.model.branches import BoundaryDetectionBranch, SemanticSegmentationBranch
from basnet_lib.model.config import BACKBONES, ModelConfig
from basnet_lib.model.global_attention import GlobalAttentionBlock
from basnet_lib.model.layers import BranchInputs, ConvOfConcatenation, HighLevelUpsampler, LateralProjections
from basnet_lib.model.probes import SABProbes
from basnet_lib.model.spatial_attention import SpatialAttentionBlock
from basnet_lib.model.variants import Variant, table1_variants, variant_names, variant_row

__all__ = [
    "ASPP",
    "BACKBONES",
    "AggregationModule",
    "BASNet",
    "BoundaryDetectionBranch",
    "BranchInputs",
    "ConvOfConcatenation",
    "DeepLabV3Head",
    "DilatedResNetBackbone",
    "GlobalAttentionBlock",
    "HighLevelUpsampler",
    "LateralProjections",
    "ModelConfig",
    "SABProbes",
    "SemanticSegmentationBranch",
    "SpatialAttentionBlock",
    "Variant",
    "build_backbone",
    "build_basnet",
    "table1_variants",
    "variant_names",
    "variant_row",
]
