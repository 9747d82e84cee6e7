import keras
import numpy as np
import pytest

import kvae
from kvae.callbacks import ClassGridGIF
from kvae.callbacks._frames import GAP
from kvae.callbacks._frames import LABEL_HEIGHT
from kvae.callbacks._frames import MARGIN
from kvae.callbacks.class_grid_gif import class_grid_inputs
from tests.callbacks.conftest import make_images

CLASSES = 3


def conditional_model():
    images = make_images()
    model = kvae.ConditionalVAE(
        kvae.layers.MLPEncoder(2, hidden_units=(32,)),
        kvae.layers.MLPDecoder(
            output_shape=images.shape[1:], hidden_units=(32,)
        ),
        num_classes=CLASSES,
        seed=1,
    )
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    return model, images, np.arange(len(images)) % CLASSES


def cells(frame, rows, cols, side=48):
    """The `(rows, cols)` cells of a frame's grid."""
    top, step = LABEL_HEIGHT + MARGIN, side + GAP
    return [
        [
            frame[
                top + r * step : top + r * step + side,
                MARGIN + c * step : MARGIN + c * step + side,
            ]
            for c in range(cols)
        ]
        for r in range(rows)
    ]


def test_rows_are_classes_and_columns_share_codes(tmp_path, read_gif):
    model, images, labels = conditional_model()
    callback = ClassGridGIF(tmp_path, columns=4, seed=2)
    model.fit(
        images, labels, epochs=3, batch_size=16, verbose=0, callbacks=[callback]
    )

    frames, _ = read_gif(tmp_path / "class_grid.gif")
    height = LABEL_HEIGHT + 2 * MARGIN + 3 * 48 + 2 * GAP
    assert frames.shape == (3, height, 2 * MARGIN + 4 * 48 + 3 * GAP, 3)
    assert not np.array_equal(frames[0], frames[-1])
    grid = cells(frames[-1], CLASSES, 4)
    for c in range(4):
        assert not np.array_equal(grid[0][c], grid[1][c])
        assert not np.array_equal(grid[1][c], grid[2][c])
    codes, grid_labels = class_grid_inputs(model, [0, 1, 2], 4, 2)
    assert grid_labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    np.testing.assert_array_equal(codes[:4], codes[4:8])
    np.testing.assert_array_equal(codes[:4], codes[8:])
    assert callback.title == "rows: 0 1 2"


def test_chosen_classes_and_names(tmp_path, read_gif):
    model, images, labels = conditional_model()
    callback = ClassGridGIF(
        tmp_path, classes=[2, 0], columns=2, class_names=["a", "b", "c"]
    )
    model.fit(
        images, labels, epochs=1, batch_size=32, verbose=0, callbacks=[callback]
    )
    frames, _ = read_gif(tmp_path / "class_grid.gif")
    assert frames.shape[1] == LABEL_HEIGHT + 2 * MARGIN + 2 * 48 + GAP
    assert callback.title == "rows: c a"


def test_refuses_other_models_and_classes(tmp_path, train):
    with pytest.raises(TypeError, match="has no num_classes"):
        train([ClassGridGIF(tmp_path)], epochs=1)
    model, images, labels = conditional_model()
    with pytest.raises(ValueError, match=r"classes \[5\] are not among"):
        model.fit(
            images,
            labels,
            epochs=1,
            verbose=0,
            callbacks=[ClassGridGIF(tmp_path, classes=[0, 5])],
        )
    with pytest.raises(ValueError, match="`columns` must be a positive int"):
        ClassGridGIF(tmp_path, columns=0)
