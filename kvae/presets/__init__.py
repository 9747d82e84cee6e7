"""Pretrained kvae models (presets), in keras-hub's preset layout.

A preset is a folder with three files, as keras-hub writes them:

- `config.json`: the model's config, as `keras.saving` serializes it
  (the class, its arguments, the nested layers and its build config);
- `model.weights.h5`: its weights (no optimizer state), which load under
  every backend;
- `metadata.json`: a one-line description, the dataset, the command that
  trained it, the commit, its test metrics and precision, the kvae and
  Keras versions and the backend it was trained under.

`model.save_to_preset(folder)` writes one and `kvae.VAE.from_preset(name
or folder or hf:// handle)` loads it, as the class it was saved as. The
presets shipped with kvae live in this package (`kvae/presets/<name>/`)
and go into the wheel; `kvae.VAE.presets` lists them (name ->
description). `export_preset` writes a preset from a finished recipe run
(its `model.keras` and `metrics.json`), with the record of how it was
trained:

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
from kvae.presets.samplers import load_sampler

__all__ = [
    "PresetError",
    "SHIPPED_DIR",
    "export_preset",
    "load_sampler",
    "read_metadata",
    "shipped_presets",
]
