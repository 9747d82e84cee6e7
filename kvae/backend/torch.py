"""`train_step`/`test_step` for the PyTorch backend (`loss.backward()`)."""

import torch


class VAETrainer:
    def train_step(self, data):
        x = self.unpack_images(data)
        self.zero_grad()
        loss, aux = self.compute_elbo(x, training=True)
        self.optimizer.scale_loss(loss).backward()
        trainable_weights = self.trainable_weights[:]
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        return self.update_trackers(x, loss, aux, training=True)

    def test_step(self, data):
        x = self.unpack_images(data)
        loss, aux = self.compute_elbo(x, training=False)
        return self.update_trackers(x, loss, aux)


def compile_inference(model, fn):
    """Runs `fn` eagerly without recording gradients."""
    del model

    def inference(*args):
        with torch.no_grad():
            return fn(*args)

    return inference
