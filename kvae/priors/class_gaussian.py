import keras
from keras import ops

from kvae import elbo
from kvae import model_args
from kvae.priors.prior import Prior


@keras.saving.register_keras_serializable(package="kvae")
class ClassGaussian(Prior):
    """A learned Gaussian per class, `p(z | y) = N(mu_y, diag sigma_y^2)`,
    the prior of a `kvae.ConditionalVAE`.

    With the standard normal prior, a conditional VAE may leave the class
    in the code `z` and the decoder learn to read it there; a sample then
    draws the class from `z` as much as from the label it is asked for.
    Giving each class its own learned region of the latent space makes the
    label choose where `z` is drawn from. The means start at 0 and the
    log-variances at 0 (the standard normal for every class); the KL term
    against each image's posterior is analytic, per dimension, like the
    standard normal's (so free bits apply).

    The labels come from the model: the batch's during training, those
    given to `sample(n, labels=...)` or `sample_latent(n, labels=...)` at
    inference. A plain `kvae.VAE` has no labels and refuses this prior.

    Args:
        num_classes: int or `None`. Number of classes; `None` takes the
            model's `num_classes`.

    Example:

    ```python
    model = kvae.ConditionalVAE(
        kvae.layers.ConvEncoder(16),
        kvae.layers.ConvDecoder(output_shape=(28, 28, 1)),
        num_classes=10,
        prior="class_gaussian",
    )
    ```
    """

    needs_labels = True

    def __init__(self, num_classes=None, **kwargs):
        super().__init__(**kwargs)
        if num_classes is not None:
            model_args.check_int("num_classes", num_classes, 2)
            num_classes = int(num_classes)
        self.num_classes = num_classes

    def build(self, input_shape):
        super().build(input_shape)
        shape = (self.num_classes, self.latent_dim)
        self.means = self.add_weight(
            name="means", shape=shape, initializer="zeros", autocast=False
        )
        self.log_vars = self.add_weight(
            name="log_vars", shape=shape, initializer="zeros", autocast=False
        )

    def parameters(self, rows_like):
        """The mean and log-variance of `p(z | y)` for the model's current
        labels, with as many rows as `rows_like` (the labels repeated,
        sample-major, for several codes per image)."""
        condition = self._owner().labels_for(rows_like)
        means = ops.matmul(condition, ops.cast(self.means, "float32"))
        log_vars = ops.matmul(condition, ops.cast(self.log_vars, "float32"))
        return means, log_vars

    def log_prob(self, z):
        z = ops.convert_to_tensor(z, dtype="float32")
        means, log_vars = self.parameters(z)
        return elbo.gaussian_log_prob(z, means, log_vars)

    def sample(self, n, seed, temperature=1.0):
        eps = keras.random.normal((int(n), self.latent_dim), seed=seed)
        means, log_vars = self.parameters(eps)
        return means + temperature * ops.exp(0.5 * log_vars) * eps

    def kl_divergence(self, z_mean, z_log_var, z):
        z_mean = ops.convert_to_tensor(z_mean, dtype="float32")
        z_log_var = ops.convert_to_tensor(z_log_var, dtype="float32")
        means, log_vars = self.parameters(z_mean)
        return elbo.gaussian_kl_per_dim(z_mean, z_log_var, means, log_vars)

    def get_config(self):
        config = super().get_config()
        config["num_classes"] = self.num_classes
        return config
