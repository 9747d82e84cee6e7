"""How well a conditional model draws the class it is asked for:
`label_accuracy`."""

import numpy as np
from keras import ops


def label_accuracy(
    model, classifier, num_per_class=100, seed=0, temperature=1.0
):
    """The fraction of a conditional model's samples that a classifier
    assigns to the requested class.

    For each class, `num_per_class` images are drawn with
    `model.sample(n, labels=c)` and classified; a sample counts when the
    classifier's most probable class is `c`. A classifier trained on the
    data's own labels (`kvae.evaluation.train_feature_classifier`) is the
    judge: its test accuracy on real images is the ceiling to read the
    result against.

    Args:
        model: a trained `kvae.ConditionalVAE` (or
            `kvae.ConditionalHierarchicalVAE`), or a `kvae.samplers`
            sampler fitted to one: its `sample(n, labels=...)` is judged.
        classifier: `keras.Model` mapping images to class probabilities
            (or logits) `(n, num_classes)`.
        num_per_class: int. Samples drawn per class.
        seed: int. Seed of the samples (class `c` uses `seed + c`).
        temperature: float. Sampling temperature.

    Returns:
        dict with `accuracy` (float, over all samples), `per_class` (list
        of floats, indexed by class) and `num_per_class`.

    Example:

    ```python
    scores = kvae.evaluation.label_accuracy(model, classifier)
    print(f"{scores['accuracy']:.1%} of samples show the requested class")
    ```
    """
    num_classes = getattr(model, "num_classes", None)
    if num_classes is None:
        raise TypeError(
            "label_accuracy asks a conditional model for each class; "
            f"{type(model).__name__} has no num_classes. Use a "
            "kvae.ConditionalVAE, or a sampler fitted to one."
        )
    per_class = []
    for label in range(num_classes):
        images = model.sample(
            int(num_per_class),
            labels=label,
            seed=int(seed) + label,
            temperature=temperature,
        )
        scores = classifier.predict(
            np.asarray(ops.convert_to_numpy(images)), verbose=0
        )
        per_class.append(float(np.mean(np.argmax(scores, -1) == label)))
    return {
        "accuracy": float(np.mean(per_class)),
        "per_class": per_class,
        "num_per_class": int(num_per_class),
    }
