"""Callbacks that draw training: GIFs of reconstructions, samples, the
latent space, interpolations and a conditional model's classes, plots of
the training curves, and the newest frames as TensorBoard images.

Each writes into an output folder, rewriting its file atomically (temporary
file, then rename) whenever it draws, so a run can be watched as it goes and
an interrupted run never leaves a broken file.

They draw every N epochs (`every_n_epochs`) or, for short runs, every N
training batches (`every_n_batches`). A GIF keeps its frames in memory and
is rewritten whole at each frame, so aim for tens to a few hundred frames.
Drawing by epochs leaves Keras free to run batch callbacks asynchronously.
"""

from kvae.callbacks.class_grid_gif import ClassGridGIF
from kvae.callbacks.interpolation_gif import InterpolationGIF
from kvae.callbacks.latent_space_gif import LatentSpaceGIF
from kvae.callbacks.metrics_plot import MetricsPlot
from kvae.callbacks.reconstruction_gif import ReconstructionGIF
from kvae.callbacks.sample_gif import SampleGIF
from kvae.callbacks.tensorboard_images import TensorBoardImages

__all__ = [
    "ClassGridGIF",
    "InterpolationGIF",
    "LatentSpaceGIF",
    "MetricsPlot",
    "ReconstructionGIF",
    "SampleGIF",
    "TensorBoardImages",
]
