"""Data copying: are generated images closer to the training images than
new real images are?

A sampler fitted to the training codes gets a lower FD the more closely
it follows them, and in the limit it decodes the training codes
themselves: the reconstructions of training images, the yardstick of
`docs/sample_quality.md`. FD, KID, precision and recall cannot tell a
sampler that generalises from one that copies. `data_copying` can: it is
the test of Meehan et al. (2020), which compares how far each generated
image is from its nearest training image with how far each held-out real
image is from its nearest training image.

Example:

```python
import kvae

result = kvae.evaluation.data_copying(x_train, x_test, samples)
print(f"C_T = {result.statistic:.2f}")   # << 0: copies; >> 0: underfits
```
"""

import dataclasses

import numpy as np
from scipy.stats import mannwhitneyu
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors

from kvae.evaluation.sample_quality import feature_sets
from kvae.model_args import check_int


@dataclasses.dataclass(frozen=True)
class DataCopying:
    """The result of `data_copying`.

    Attributes:
        statistic: float. Meehan et al.'s `C_T`: the cells' Mann-Whitney
            z-scores, averaged with the held-out images' share of each
            cell as weights. About 0 when the generated images are as far
            from the training images as new real images are; well below 0
            (say under -3) when they are closer (copying); above 0 when
            they are farther (underfitting, or blur).
        cell_z: tuple of float. The z-score of each cell used.
        cells_used: int. Cells holding at least `min_per_cell` generated
            images (the others are left out, as in the paper).
        num_cells: int. Cells the training features were split into.
        num_train, num_held_out, num_generated: int. Images used.
    """

    statistic: float
    cell_z: tuple
    cells_used: int
    num_cells: int
    num_train: int
    num_held_out: int
    num_generated: int

    def __float__(self):
        return self.statistic

    def __format__(self, spec):
        return format(self.statistic, spec)


def data_copying(
    train,
    held_out,
    generated,
    features=None,
    num_cells=10,
    min_per_cell=20,
    seed=0,
    verbose="auto",
):
    """Meehan et al.'s three-sample test for data copying, `C_T`.

    The training features are split into `num_cells` cells by k-means
    (scikit-learn's `KMeans`). In each cell, every held-out and every
    generated image gets its distance to the nearest training image of the
    cell, and the two sets of distances are compared by the Mann-Whitney
    U test (SciPy's `mannwhitneyu`; `U` counts the pairs where the
    generated image is the farther one), z-scored under the null
    hypothesis: `z = (U - m n / 2) / sqrt(m n (m + n + 1) / 12)`. `C_T`
    averages the z-scores of the cells holding at least `min_per_cell`
    generated images, weighted by each cell's share of the held-out
    images. Cells do what a global test cannot: a generator that copies
    in one region and underfits in another is caught.

    Which three sets to pass: `held_out` must be real images the
    generator never saw (test images), drawn like `train`. For a VAE,
    whose decoder blurs, compare like with like: pass the model's
    reconstructions of training images as `train` and of test images as
    `held_out` (the recipes do), so that blur alone does not read as
    "farther from the training images".

    Args:
        train, held_out, generated: images (NumPy arrays in `[0, 1]`, a
            `tf.data` dataset) or precomputed `Features`, all of one shape.
        features: the feature network, as in `frechet_distance`.
        num_cells: int. k-means cells (the paper uses 3 to 75; every cell
            needs held-out images, so keep `num_cells` well under their
            number).
        min_per_cell: int. Generated images a cell needs to count (the
            paper's `tau`, as a count).
        seed: int. The k-means seed.
        verbose: as `frechet_distance`.

    Returns:
        `DataCopying`.

    Reference:
    - [Meehan, Chaudhuri and Dasgupta, 2020](https://arxiv.org/abs/2004.05675),
      "A Non-Parametric Test to Detect Data-Copying in Generative Models".
    """
    check_int("num_cells", num_cells, 1)
    check_int("min_per_cell", min_per_cell, 1)
    f_train, f_held, f_gen = feature_sets(
        {"training": train, "held-out": held_out, "generated": generated},
        features,
        minimum=2 * num_cells,
        verbose=verbose,
    )
    cells = KMeans(num_cells, n_init=3, random_state=seed).fit(f_train.values)
    in_cell = {
        name: cells.labels_ if name == "train" else cells.predict(f.values)
        for name, f in (("train", f_train), ("held", f_held), ("gen", f_gen))
    }
    weights, scores = [], []
    for cell in range(num_cells):
        gen = f_gen.values[in_cell["gen"] == cell]
        held = f_held.values[in_cell["held"] == cell]
        if len(gen) < min_per_cell or len(held) == 0:
            continue
        nearest = NearestNeighbors(n_neighbors=1).fit(
            f_train.values[in_cell["train"] == cell]
        )
        gen_distance = nearest.kneighbors(gen)[0][:, 0]
        held_distance = nearest.kneighbors(held)[0][:, 0]
        scores.append(_z_score(gen_distance, held_distance))
        weights.append(len(held))
    if not scores:
        raise ValueError(
            f"No cell holds {min_per_cell} generated images and a held-out "
            f"image: pass more generated images (got {len(f_gen)}), or "
            f"lower num_cells ({num_cells}) or min_per_cell."
        )
    return DataCopying(
        statistic=float(np.average(scores, weights=weights)),
        cell_z=tuple(float(z) for z in scores),
        cells_used=len(scores),
        num_cells=int(num_cells),
        num_train=len(f_train),
        num_held_out=len(f_held),
        num_generated=len(f_gen),
    )


def _z_score(generated, held_out):
    """The Mann-Whitney U of `generated` against `held_out`, z-scored
    under the hypothesis that both come from one distribution."""
    m, n = len(generated), len(held_out)
    u = mannwhitneyu(generated, held_out).statistic
    return (u - m * n / 2) / np.sqrt(m * n * (m + n + 1) / 12)
