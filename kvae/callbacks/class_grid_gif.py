import numpy as np

from kvae.callbacks import _base


class ClassGridGIF(_base.ImageGridGIF):
    """A GIF of a conditional model's samples, one row per class.

    Every row decodes the same `columns` latent codes, drawn from the
    prior with `seed`, each with its row's label: a row shows one class,
    a column one "style" (the code) across the classes. Each frame draws
    the codes again with the same seed (as `kvae.callbacks.SampleGIF`
    does), so the GIF shows the model learning over training.

    Args:
        output_dir: str. Folder for the GIF; created if needed.
        classes: sequence of int or `None`. The classes shown, one row
            each, in this order; `None` shows all of the model's
            `num_classes`.
        columns: int. Latent codes, one column each.
        seed: int. Seed of the codes.
        class_names: sequence of str or `None`. Names of all the model's
            classes, indexed by label, listed in the caption.
        filename: str. Name of the GIF inside `output_dir`.
        every_n_epochs: int. Draw a frame at the end of every N epochs.
        every_n_batches: int or `None`. If set, draw every N training
            batches instead.
        frame_duration: float. Seconds per frame.
        end_pause: float. Seconds the last frame is held before looping.
        scale: int or `None`. Upscaling of each image.
        value_range: `(low, high)`. Data values shown as black and white.

    Example:

    ```python
    callback = kvae.callbacks.ClassGridGIF("runs/cmnist", columns=8)
    model.fit(x_train, y_train, epochs=10, callbacks=[callback])
    ```
    """

    def __init__(
        self,
        output_dir,
        classes=None,
        columns=8,
        seed=0,
        class_names=None,
        filename="class_grid.gif",
        every_n_epochs=1,
        every_n_batches=None,
        frame_duration=0.3,
        end_pause=1.5,
        scale=None,
        value_range=(0.0, 1.0),
    ):
        if not isinstance(columns, (int, np.integer)) or columns < 1:
            raise ValueError(
                f"`columns` must be a positive int; got {columns!r}."
            )
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(
                f"`seed` must be a non-negative int, so that every frame "
                f"decodes the same codes; got {seed!r}."
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
        self.classes = None if classes is None else [int(c) for c in classes]
        self.columns = int(columns)
        self.seed = int(seed)
        self.class_names = None if class_names is None else list(class_names)
        self.shown_classes = None

    def setup(self):
        _base.check_model(
            self.model, ["decode", "sample_latent"], who="ClassGridGIF"
        )
        num_classes = getattr(self.model, "num_classes", None)
        if num_classes is None:
            raise TypeError(
                "ClassGridGIF draws a conditional model's classes; "
                f"{type(self.model).__name__} has no num_classes. Use "
                "kvae.ConditionalVAE, or SampleGIF for this model."
            )
        classes = self.classes or list(range(num_classes))
        bad = [c for c in classes if not 0 <= c < num_classes]
        if bad:
            raise ValueError(
                f"ClassGridGIF's classes {bad} are not among the model's "
                f"{num_classes} classes (0 to {num_classes - 1})."
            )
        self.shown_classes = classes
        names = self.class_names or [str(c) for c in range(num_classes)]
        self.title = "rows: " + " ".join(names[c] for c in classes)

    def make_frame(self, label):
        codes, labels = class_grid_inputs(
            self.model, self.shown_classes, self.columns, self.seed
        )
        images = self.model.decode(codes, labels)
        return self.grid_frame(images, self.columns, label)


def class_grid_inputs(model, classes, columns, seed):
    """`(codes, labels)` of a class grid: row `r` holds `columns` prior
    draws with `seed` and the label `classes[r]`. The same seed draws the
    same noise in every row: the same codes under `p(z)`, the same place
    within each class's Gaussian under `p(z | y)`."""
    codes = [
        _base.to_numpy(
            model.sample_latent(int(columns), seed=int(seed), labels=int(c))
        )
        for c in classes
    ]
    labels = np.repeat(np.asarray(classes), int(columns))
    return np.concatenate(codes).astype("float32"), labels
