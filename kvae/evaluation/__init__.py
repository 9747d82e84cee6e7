"""Evaluation of trained models.

- Likelihood (`kvae.evaluation.likelihood`): `negative_elbo`,
  `importance_weighted_nll`, `evaluate`, `log_importance_weights`; each
  takes `labels=` for a `kvae.ConditionalVAE`.
- Conditional generation (`kvae.evaluation.conditional`): `label_accuracy`,
  the fraction of samples a classifier assigns to the requested class.
- Sample quality (`kvae.evaluation.sample_quality`): `frechet_distance`,
  `kernel_distance`, `precision_recall`, and `sample_scores` for all of them
  at once, in the features of `kvae.evaluation.RandomFeatures` (the default,
  no download), of a classifier trained by `train_feature_classifier`, or
  of any `keras.Model` you pass.
- Data copying (`kvae.evaluation.data_copying`): `data_copying`, Meehan et
  al.'s test of whether generated images sit closer to the training images
  than new real images do.
"""

from kvae.evaluation.classifier import train_feature_classifier
from kvae.evaluation.conditional import label_accuracy
from kvae.evaluation.data_copying import DataCopying
from kvae.evaluation.data_copying import data_copying
from kvae.evaluation.features import Features
from kvae.evaluation.features import extract_features
from kvae.evaluation.features import feature_extractor
from kvae.evaluation.features import random_features
from kvae.evaluation.likelihood import evaluate
from kvae.evaluation.likelihood import evaluate_logs
from kvae.evaluation.likelihood import importance_weighted_nll
from kvae.evaluation.likelihood import log_importance_weights
from kvae.evaluation.likelihood import negative_elbo
from kvae.evaluation.sample_quality import PrecisionRecall
from kvae.evaluation.sample_quality import Score
from kvae.evaluation.sample_quality import frechet_distance
from kvae.evaluation.sample_quality import kernel_distance
from kvae.evaluation.sample_quality import precision_recall
from kvae.evaluation.sample_quality import sample_scores

__all__ = [
    "DataCopying",
    "Features",
    "PrecisionRecall",
    "Score",
    "data_copying",
    "evaluate",
    "evaluate_logs",
    "extract_features",
    "feature_extractor",
    "frechet_distance",
    "importance_weighted_nll",
    "kernel_distance",
    "label_accuracy",
    "log_importance_weights",
    "negative_elbo",
    "precision_recall",
    "random_features",
    "sample_scores",
    "train_feature_classifier",
]
