"""The principal axes of latent codes, for the latent-space pictures."""

import numpy as np


def pca_basis(z):
    """Orthonormal `(latent_dim, 2)` basis of the two principal axes of
    `z`, signs fixed so that each axis's largest component is positive.

    Args:
        z: NumPy array `(n, latent_dim)` with `latent_dim >= 2`.

    Returns:
        float32 NumPy array `(latent_dim, 2)`; project with
        `(z - z.mean(axis=0)) @ basis`.
    """
    centred = z - z.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    basis = vt[:2].T
    signs = np.sign(basis[np.abs(basis).argmax(axis=0), [0, 1]])
    signs[signs == 0] = 1.0
    return (basis * signs).astype("float32")
