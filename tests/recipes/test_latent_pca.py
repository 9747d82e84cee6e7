"""The PCA plot of the latent space (`kvae.experiment.plot_latent_pca`)
and redrawing it from a saved run (`load_test_split`)."""

import os

import keras
import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.colors import to_hex

import kvae
from kvae import experiment
from kvae.experiment import report

SHAPE = (8, 8, 3)


def tiny_model(shape=SHAPE):
    return kvae.VAE(
        kvae.layers.MLPEncoder(4, hidden_units=(16,)),
        kvae.layers.MLPDecoder(output_shape=shape, hidden_units=(16,)),
        likelihood="gaussian",
        image_metrics=False,
        seed=0,
    )


def images_of(n, shape=SHAPE):
    return np.random.default_rng(0).random((n,) + shape).astype("float32")


def legend_texts(figure):
    return [t.get_text() for t in figure.axes[0].get_legend().get_texts()]


def legend_colours(figure):
    handles = figure.axes[0].get_legend().legend_handles
    return [to_hex(h.get_color()) for h in handles]


def breeds():
    return [f"breed {i}" for i in range(120)]


def labels_with_largest(largest):
    """Two images of each of 120 classes, and 2 to 7 more of `largest`
    (the first of them has the most)."""
    labels = list(np.arange(240) % 120)
    for rank, label in enumerate(largest):
        labels += [label] * (len(largest) + 1 - rank)
    return np.asarray(labels)


def test_many_classes_colour_the_six_largest():
    largest = [33, 5, 119, 64, 17, 90]
    labels = labels_with_largest(largest)
    figure = report.latent_pca_figure(
        tiny_model(), images_of(len(labels)), labels, class_names=breeds()
    )
    assert legend_texts(figure) == [f"breed {i}" for i in largest]
    palette = [to_hex(c) for c in colormaps["tab10"].colors]
    assert legend_colours(figure) == palette[:6]
    legend = figure.axes[0].get_legend()
    assert legend.get_title().get_text() == "6 of 120 classes\n(others grey)"
    grey, coloured = figure.axes[0].collections
    in_largest = np.isin(labels, largest)
    assert len(grey.get_offsets()) == np.sum(~in_largest)
    assert len(coloured.get_offsets()) == np.sum(in_largest)
    assert {to_hex(c) for c in grey.get_facecolors()} == {"#c8c8c8"}
    assert {to_hex(c) for c in coloured.get_facecolors()} == set(palette[:6])


def test_highlight_names_the_classes_to_colour():
    labels = np.arange(360) % 120
    figure = report.latent_pca_figure(
        tiny_model(),
        images_of(len(labels)),
        labels,
        class_names=breeds(),
        highlight=["breed 7", "breed 3"],
    )
    assert legend_texts(figure) == ["breed 7", "breed 3"]
    grey, coloured = figure.axes[0].collections
    assert len(coloured.get_offsets()) == 6
    assert len(grey.get_offsets()) == 354


def test_few_classes_are_all_coloured_and_named():
    labels = np.arange(40) % 4
    names = ["o", "ki", "su", "tsu"]
    figure = report.latent_pca_figure(
        tiny_model(), images_of(40), labels, class_names=names
    )
    assert legend_texts(figure) == names
    assert figure.axes[0].get_legend().get_title().get_text() == ""
    # No grey points: one collection, of every image.
    (coloured,) = figure.axes[0].collections
    assert len(coloured.get_offsets()) == 40
    # Without names a class is called by its label.
    figure = report.latent_pca_figure(tiny_model(), images_of(40), labels)
    assert legend_texts(figure) == ["0", "1", "2", "3"]


def test_writes_the_png_atomically(tmp_path):
    labels = np.arange(30) % 3
    path = tmp_path / "latent_pca.png"
    figure = experiment.plot_latent_pca(
        tiny_model(), images_of(30), labels, path, thumbnails=5
    )
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert legend_texts(figure) == ["0", "1", "2"]
    assert os.listdir(tmp_path) == ["latent_pca.png"]


def test_encodes_in_batches():
    # More images than one encoding batch: every one gets its point.
    labels = np.arange(600) % 3
    figure = report.latent_pca_figure(
        tiny_model(), images_of(600), labels, thumbnails=0
    )
    (coloured,) = figure.axes[0].collections
    assert len(coloured.get_offsets()) == 600


def test_bad_input():
    model, images = tiny_model(), images_of(240)
    labels = np.arange(240) % 120
    with pytest.raises(ValueError, match="no image here has"):
        report.latent_pca_figure(
            model, images, labels, class_names=breeds(), highlight=["cat"]
        )
    with pytest.raises(ValueError, match="1 to 10 classes"):
        report.latent_pca_figure(
            model,
            images,
            labels,
            class_names=breeds(),
            highlight=breeds()[:11],
        )
    with pytest.raises(ValueError, match="has 100 names"):
        report.latent_pca_figure(
            model, images, labels, class_names=breeds()[:100]
        )
    with pytest.raises(ValueError, match="one int per image"):
        report.latent_pca_figure(model, images, labels[:10])


def test_redraw_from_a_saved_run(shared_data, tmp_path):
    """The code a user runs to redraw a finished run's latent_pca.png."""
    folder = os.path.join(shared_data, "stanford_dogs")
    if not os.path.isdir(os.path.join(folder, "Images")):
        pytest.skip(f"{folder} has no Images/ folder")
    config = experiment.Config(
        dataset="stanford_dogs",
        manual_dir=folder,
        image_size=16,
        max_test_examples=120,
    )
    x, y, names = experiment.load_test_split(config)
    assert x.shape == (120, 16, 16, 3) and x.dtype == np.float32
    assert len(names) == 120 and names[0] == "Chihuahua"
    # The loader's fixed order mixes the breeds: more than 10 here.
    classes, counts = np.unique(y, return_counts=True)
    assert len(classes) > 10
    ranked = sorted(zip(-counts, classes))[:6]
    largest = [names[label] for _, label in ranked]

    model = tiny_model(x.shape[1:])
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x, epochs=1, batch_size=60, verbose=0)
    model.save(tmp_path / "model.keras")

    model = keras.saving.load_model(tmp_path / "model.keras")
    figure = experiment.plot_latent_pca(
        model, x, y, tmp_path / "latent_pca.png", class_names=names
    )
    assert legend_texts(figure) == largest
    assert (tmp_path / "latent_pca.png").stat().st_size > 10_000
