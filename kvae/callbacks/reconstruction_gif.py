import numpy as np

from kvae.callbacks import _base
from kvae.callbacks import _frames


class ReconstructionGIF(_base.ImageGridGIF):
    """A GIF of fixed validation images and their reconstructions.

    Each frame shows rows of originals, each row followed by the same
    images reconstructed by the model at that point of training (the
    decoded posterior mean, `model.reconstruct`), captioned with the epoch
    or step. The GIF is rewritten atomically after every frame, so it can
    be watched during a long run.

    Args:
        images: NumPy array `(n, height, width, channels)`, 1 or 3
            channels, in the model's data space. The first
            `rows * cols` images are shown; pass the ones you want.
        output_dir: str. Folder for the GIF; created if needed.
        grid_size: int or `(rows, cols)`. Rows of originals (each paired
            with a row of reconstructions) and images per row.
        filename: str. Name of the GIF inside `output_dir`.
        every_n_epochs: int. Draw a frame at the end of every N epochs.
        every_n_batches: int or `None`. If set, draw a frame every N
            training batches instead (for short runs).
        frame_duration: float. Seconds per frame.
        end_pause: float. Seconds the last frame is held before looping.
        scale: int or `None`. Upscaling of each image; by default small
            images are enlarged to about 48 pixels.
        value_range: `(low, high)`. Data values shown as black and white.

    Example:

    ```python
    callback = kvae.callbacks.ReconstructionGIF(x_test[:16], "runs/mnist")
    model.fit(x_train, epochs=20, callbacks=[callback])
    ```
    """

    title = "reconstructions"

    def __init__(
        self,
        images,
        output_dir,
        grid_size=(2, 8),
        filename="reconstructions.gif",
        every_n_epochs=1,
        every_n_batches=None,
        frame_duration=0.3,
        end_pause=1.5,
        scale=None,
        value_range=(0.0, 1.0),
    ):
        self.grid_size = _frames.check_grid_size(grid_size)
        rows, cols = self.grid_size
        self.images = _frames.check_images(
            images, "images", min_count=rows * cols, take=rows * cols
        )
        super().__init__(
            output_dir,
            filename,
            every_n_epochs=every_n_epochs,
            every_n_batches=every_n_batches,
            frame_duration=frame_duration,
            end_pause=end_pause,
            scale=scale,
            value_range=value_range,
        )

    def setup(self):
        _base.check_model(
            self.model, ["reconstruct"], self.images, "ReconstructionGIF"
        )

    def make_frame(self, label):
        rows, cols = self.grid_size
        reconstructions = _base.to_numpy(self.model.reconstruct(self.images))
        shape = (rows, cols) + self.images.shape[1:]
        # Interleave rows: originals, their reconstructions, originals, ...
        pairs = np.stack(
            [
                self.images.reshape(shape),
                reconstructions.reshape(shape),
            ],
            axis=1,
        ).reshape((-1,) + self.images.shape[1:])
        return self.grid_frame(pairs, cols, label, group_rows=2)
