"""BASNet reproduction library (Qiang et al., boundary-assistant symmetrical network)."""

from basnet_lib.gradient_map import image_gradient_map
from basnet_lib.model import BASNet, ModelConfig, build_basnet

__version__ = "0.1.0"

__all__ = ["BASNet", "ModelConfig", "__version__", "build_basnet", "image_gradient_map"]
