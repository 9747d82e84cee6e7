"""What one run checks after its command line is parsed and before it
reads any data: every refusal that would otherwise come after minutes of
loading, or after training."""

from kvae.experiment.errors import RunError
from kvae.experiment.feature_model import load_feature_model
from kvae.experiment.report import check_output


def check_before_data(config, writer=True):
    """Refuses, with a `RunError`, a run of `config` that cannot finish:

    - `latent_dims`, a study of several latent sizes, given to a recipe
      that trains one model (`run_latent_study` runs the study);
    - an output folder that `prepare_output` would refuse (checked by the
      process that writes, `writer`; nothing is created);
    - a `feature_model` that is not a Keras model or does not take the
      run's images.
    """
    if config.latent_dims is not None:
        raise RunError(
            f"latent_dims {tuple(config.latent_dims)} is a study of several "
            "latent sizes, which recipes/mnist.py runs; this recipe trains "
            "one model. Give --latent-dim N instead."
        )
    if writer:
        check_output(config.out, overwrite=config.overwrite)
    load_feature_model(config)
