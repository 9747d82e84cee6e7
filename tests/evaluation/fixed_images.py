"""Images that are the same on every machine, for pinned features."""

import numpy as np


def fixed_images(shape, count=4):
    """`count` smooth images of `shape` in [0, 1] from sines: no RNG, so
    no library version can change them."""
    h, w, c = shape
    y, x = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    images = []
    for i in range(count):
        channels = [
            0.5 + 0.5 * np.sin((i + 1) * x / w * 3 + (k + 1) * y / h * 5 + k)
            for k in range(c)
        ]
        images.append(np.stack(channels, axis=-1))
    return np.asarray(images, "float32")
