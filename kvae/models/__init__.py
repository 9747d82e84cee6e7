"""Model families built on `kvae.VAE`, one per module.

`kvae.VAE` itself stays at the top of the package (`kvae/vae.py`); the
families that extend it live here and are re-exported from `kvae`.
"""

from kvae.models.conditional_hierarchical_vae import ConditionalHierarchicalVAE
from kvae.models.conditional_vae import ConditionalVAE
from kvae.models.hierarchical_vae import HierarchicalVAE

__all__ = [
    "ConditionalHierarchicalVAE",
    "ConditionalVAE",
    "HierarchicalVAE",
]
