"""SynthCity: the procedural street-scene dataset in the Cityscapes layout (docs/decisions.md "SynthCity")."""

from basnet_lib.data.synthcity.cache import cache_dir, default_synthcity_root, ensure_synthcity
from basnet_lib.data.synthcity.scene import render_scene
from basnet_lib.data.synthcity.writer import (
    GENERATOR_VERSION,
    SynthCityParams,
    check_is_synthcity_set,
    generate_synthcity,
    read_manifest,
    render_sample,
)

__all__ = [
    "GENERATOR_VERSION",
    "SynthCityParams",
    "cache_dir",
    "check_is_synthcity_set",
    "default_synthcity_root",
    "ensure_synthcity",
    "generate_synthcity",
    "read_manifest",
    "render_sample",
    "render_scene",
]
