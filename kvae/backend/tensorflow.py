"""`train_step`/`test_step` for the TensorFlow backend (a `GradientTape`)."""

import tensorflow as tf
from keras.src.losses.loss import scale_loss_for_distribution


class VAETrainer:
    def train_step(self, data):
        x = self.unpack_images(data)
        with tf.GradientTape() as tape:
            loss, aux = self.compute_elbo(x, training=True)
            # Under tf.distribute each replica's gradient is summed, so the
            # loss is divided by the number of replicas (a no-op otherwise).
            scaled_loss = self.optimizer.scale_loss(
                scale_loss_for_distribution(loss)
            )
        gradients = tape.gradient(scaled_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self.update_trackers(x, loss, aux, training=True)

    def test_step(self, data):
        x = self.unpack_images(data)
        loss, aux = self.compute_elbo(x, training=False)
        return self.update_trackers(x, loss, aux)


def compile_inference(model, fn):
    """Traces `fn` once per input signature with `tf.function`."""
    del model
    return tf.function(fn, reduce_retracing=True)
