"""TensorBoardImages: the newest frame of kvae GIF callbacks, in
TensorBoard."""

import os

import keras
import numpy as np


class TensorBoardImages(keras.callbacks.Callback):
    """Writes the newest frame of each kvae GIF callback to TensorBoard.

    At the end of every epoch, the frame each GIF callback drew last (the
    reconstruction grid, the sample grid, ...) becomes an image summary
    named after its file (`reconstructions`, `samples`), at step `epoch`,
    in `<log_dir>/images`. Pair it with `keras.callbacks.TensorBoard(log_dir)`
    for the losses and metrics; both work on every backend, since they write
    with TensorFlow's summary writer (TensorFlow must be installed).

    Args:
        log_dir: str. The TensorBoard log folder.
        gifs: list of kvae GIF callbacks (`ReconstructionGIF`,
            `SampleGIF`, ...). Put them before this callback in `fit`'s
            list, so that they draw first.

    Example:

    ```python
    gif = kvae.callbacks.ReconstructionGIF(x_test[:16], "runs/vae")
    model.fit(
        x_train,
        callbacks=[
            gif,
            keras.callbacks.TensorBoard("runs/vae/tensorboard"),
            kvae.callbacks.TensorBoardImages("runs/vae/tensorboard", [gif]),
        ],
    )
    ```
    """

    def __init__(self, log_dir, gifs):
        super().__init__()
        for gif in gifs:
            if not hasattr(getattr(gif, "writer", None), "frames"):
                raise TypeError(
                    "`gifs` must be kvae GIF callbacks (ReconstructionGIF, "
                    f"SampleGIF, ...); got {type(gif).__name__}."
                )
        self.log_dir = os.fspath(log_dir)
        self.gifs = list(gifs)
        self._writer = None

    def on_train_begin(self, logs=None):
        try:
            import tensorflow as tf
        except ImportError as error:
            raise ImportError(
                "TensorBoardImages writes with TensorFlow's summary writer: "
                "install tensorflow (any Keras backend can train)."
            ) from error
        self._writer = tf.summary.create_file_writer(
            os.path.join(self.log_dir, "images")
        )

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        with self._writer.as_default():
            for gif in self.gifs:
                if not gif.writer.frames:
                    continue
                frame = np.asarray(gif.writer.frames[-1].convert("RGB"))
                name = os.path.splitext(os.path.basename(gif.path))[0]
                tf.summary.image(name, frame[None], step=epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
