"""kvae: variational autoencoders for Keras 3 on TensorFlow, JAX and PyTorch.

```python
import kvae

model = kvae.VAE(kvae.layers.ConvEncoder(16), kvae.layers.ConvDecoder())
model.compile()
model.fit(images, epochs=5)
model.save("vae.keras")
model = kvae.load_model("vae.keras")
```
"""

from kvae import callbacks
from kvae import datasets
from kvae import distribution
from kvae import evaluation
from kvae import layers
from kvae import metrics
from kvae import precision
from kvae import presets
from kvae import priors
from kvae import samplers
from kvae.loading import load_model
from kvae.models import ConditionalHierarchicalVAE
from kvae.models import ConditionalVAE
from kvae.models import HierarchicalVAE
from kvae.vae import VAE
from kvae.version import __version__

__all__ = [
    "ConditionalHierarchicalVAE",
    "ConditionalVAE",
    "HierarchicalVAE",
    "VAE",
    "__version__",
    "callbacks",
    "datasets",
    "distribution",
    "evaluation",
    "layers",
    "load_model",
    "metrics",
    "precision",
    "presets",
    "priors",
    "samplers",
]
