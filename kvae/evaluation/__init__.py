"""Evaluation of trained models.

- Likelihood (`kvae.evaluation.likelihood`): `negative_elbo`,
  `importance_weighted_nll`, `evaluate`, `log_importance_weights`.
- Sample quality (`kvae.evaluation.sample_quality`): `frechet_distance`,
  `kernel_distance`, `precision_recall`, and `sample_scores` for all of them
  at once, in the features of `kvae.evaluation.RandomFeatures` (the default,
  no download), of a classifier trained by `train_feature_classifier`, or
  of any `keras.Model` you pass.
"""

from kvae.evaluation.likelihood import evaluate
from kvae.evaluation.likelihood import evaluate_logs
from kvae.evaluation.likelihood import importance_weighted_nll
from kvae.evaluation.likelihood import log_importance_weights
from kvae.evaluation.likelihood import negative_elbo

__all__ = [
    "evaluate",
    "evaluate_logs",
    "importance_weighted_nll",
    "log_importance_weights",
    "negative_elbo",
]
