"""Pretrained kvae models (presets), in the style of keras-hub.

A preset is a folder with two files:

- `model.keras`: the model (architecture and weights, no optimizer state),
  as `model.save` writes it; it loads under every backend.
- `metadata.json`: a one-line description, the class it was saved as, the
  dataset, the command that trained it, its test metrics, the kvae and
  Keras versions and the backend it was trained under.

The presets shipped with kvae live in this package (`kvae/presets/<name>/`)
and go into the wheel. `kvae.VAE.presets` lists them (name -> description)
and `kvae.VAE.from_preset(name_or_folder)` loads one, as the class it was
saved as. `export_preset` turns a finished recipe run (its `model.keras`
and `metrics.json`) or a trained model into a preset folder:

```python
kvae.presets.export_preset(
    "runs/kmnist",
    "kvae/presets/kmnist_conv_vae",
    description="KMNIST, conv VAE, 16-D latent",
    command="python -m kvae.recipes.kmnist",
)
model = kvae.VAE.from_preset("kmnist_conv_vae")
```
"""

from kvae.presets.errors import PresetError
from kvae.presets.export import export_preset
from kvae.presets.loader import SHIPPED_DIR
from kvae.presets.loader import read_metadata
from kvae.presets.loader import shipped_presets

__all__ = [
    "PresetError",
    "SHIPPED_DIR",
    "export_preset",
    "read_metadata",
    "shipped_presets",
]
