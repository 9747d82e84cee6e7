"""`kvae.ConditionalHierarchicalVAE`: the hierarchical VAE given a class
label."""

import keras

from kvae.models.conditional_vae import ConditionalVAE
from kvae.models.hierarchical_vae import HierarchicalVAE
from kvae.models.labels import row_count


@keras.saving.register_keras_serializable(package="kvae")
class ConditionalHierarchicalVAE(ConditionalVAE, HierarchicalVAE):
    """A `kvae.HierarchicalVAE` whose encoder and top-down path see a label.

    The generative model is `p(z_1) p(z_2 | z_1, y) ... p(x | z, y)` and the
    inference model `q(z_g | x, y, z_<g)`: the one-hot label `y` enters
    the bottom-up path after every residual block and the top-down state
    before the first group and after every group's write
    (`kvae.layers.HierarchicalEncoder` and `HierarchicalDecoder` with
    `condition=`), so each group's prior and posterior, and the image, are
    conditioned on it. The top group's prior is the model's `prior`:
    `p(z_1)`, or `p(z_1 | y)` with `kvae.priors.ClassGaussian`.

    Everything about labels is `kvae.ConditionalVAE`'s (`fit(images,
    labels)`, the label checks, `encode`/`decode`/`sample(n, labels=...)`,
    `kvae.evaluation` with `labels=`); everything about the hierarchy is
    `kvae.HierarchicalVAE`'s (the per-group KLs `kl_loss_1`...,
    `sample(n, labels=..., temperature=t)` drawing every group from its
    prior, warm-up, free bits, skipped updates).

    Args:
        encoder: a `kvae.layers.HierarchicalEncoder`.
        decoder: a `kvae.layers.HierarchicalDecoder` with the same
            resolutions.
        num_classes: int. Number of classes, at least 2.
        **kwargs: the other arguments of `kvae.HierarchicalVAE`.

    Example:

    ```python
    model = kvae.ConditionalHierarchicalVAE(
        kvae.layers.HierarchicalEncoder(resolutions=(7, 14)),
        kvae.layers.HierarchicalDecoder((28, 28, 1), resolutions=(7, 14)),
        num_classes=10,
    )
    model.compile(optimizer="adam")
    model.fit(x, y, epochs=1, batch_size=64)
    sevens = model.sample(8, labels=7, temperature=0.8)
    ```
    """

    def path_condition(self, like):
        return {"condition": self.labels_for(like)}

    def encode_path(self, x, labels=None):
        """Codes of every group of `q(z | x, y)` (see
        `kvae.HierarchicalVAE.encode_path`), given each image's label."""
        with self._given_labels(labels, row_count(x), "encode_path()"):
            return super().encode_path(x)

    def decode_path(self, codes, labels=None):
        """Mean images of `p(x | z, y)` for codes of every group and
        labels `y` (see `kvae.HierarchicalVAE.decode_path`)."""
        with self._given_labels(labels, row_count(codes), "decode_path()"):
            return super().decode_path(codes)
