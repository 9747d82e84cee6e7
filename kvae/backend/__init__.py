"""The thin backend-specific part of kvae, chosen once, at import.

`VAETrainer` and `compile_inference`: the backend-specific part of
`kvae.VAE` (`train_step` and `test_step`). `distribution_lib`: the
backend's multi-device engine behind `kvae.distribution`
(`{backend}_distribution.py`, as Keras's `backend/*/distribution_lib.py`).

Keras calls `train_step(data)` on TensorFlow and PyTorch, but
`train_step(state, data)` on JAX, where the step is a pure function of the
model's variables. Each module here holds one `VAETrainer` mixin with those
two methods (and a way to compile inference functions); all of them call the
same backend-neutral `VAE.compute_elbo` and `VAE.update_trackers`.

Under JAX, importing kvae also sets the XLA:CPU flags measured to speed up
its models (`jax_flags`), before JAX reads them; under torch, it removes
two needless copies from Keras 3.15's convolution (`torch_conv`).
"""

import keras

_BACKEND = keras.backend.backend()

if _BACKEND == "jax":
    from kvae.backend import jax_flags

    jax_flags.apply()

    from kvae.backend import jax_distribution as distribution_lib
    from kvae.backend.jax import VAETrainer
    from kvae.backend.jax import compile_inference
elif _BACKEND == "torch":
    from kvae.backend import torch_conv

    torch_conv.apply()

    from kvae.backend import torch_distribution as distribution_lib
    from kvae.backend.torch import VAETrainer
    from kvae.backend.torch import compile_inference
elif _BACKEND == "tensorflow":
    from kvae.backend import tensorflow_distribution as distribution_lib
    from kvae.backend.tensorflow import VAETrainer
    from kvae.backend.tensorflow import compile_inference
else:
    raise ImportError(
        f"kvae supports the 'tensorflow', 'jax' and 'torch' Keras backends, "
        f"but KERAS_BACKEND is '{_BACKEND}'. Set KERAS_BACKEND to one of them."
    )

__all__ = ["VAETrainer", "compile_inference", "distribution_lib"]
