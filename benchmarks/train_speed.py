"""Training throughput (img/s) of kvae models on each Keras backend.

Each backend runs in its own subprocess (`KERAS_BACKEND` is fixed at import).
For every model the script times `fit` epochs on in-memory data, drops the
first epoch (compilation), and reports the median img/s of the others. On
TensorFlow it also trains the same architecture with the plain keras.io-style
`train_step` (a `GradientTape` around a sampling layer and the ELBO), so the
cost of kvae's machinery shows as a ratio measured in the same run.

    python benchmarks/train_speed.py                 # all models, backends
    python benchmarks/train_speed.py --models conv --epochs 4
"""

import argparse
import json
import os
import statistics
import sys
import time

from kvae.utils import run_with_backend

MODELS = {
    # name: (image shape, kvae layer factory arguments)
    "conv_pixel_shuffle": ((28, 28, 1), "pixel_shuffle"),
    "conv_nearest": ((28, 28, 1), "nearest"),
    "conv_transpose": ((28, 28, 1), "transpose"),
    "residual_64": ((64, 64, 3), "pixel_shuffle"),
}
BACKENDS = ("tensorflow", "jax", "torch")


def build_kvae(name, latent_dim):
    import kvae

    shape, upsampling = MODELS[name]
    if name.startswith("conv"):
        encoder = kvae.layers.ConvEncoder(latent_dim)
        decoder = kvae.layers.ConvDecoder(shape, upsampling=upsampling)
        likelihood = "bernoulli"
    else:
        encoder = kvae.layers.ResidualEncoder(latent_dim)
        decoder = kvae.layers.ResidualDecoder(shape, upsampling=upsampling)
        likelihood = "gaussian"
    return kvae.VAE(encoder, decoder, likelihood=likelihood, seed=0)


def build_keras_io_baseline(name, latent_dim):
    """The keras.io VAE example's `train_step`, around the same layers."""
    import keras
    import tensorflow as tf
    from keras import ops

    import kvae

    shape, upsampling = MODELS[name]
    encoder = kvae.layers.ConvEncoder(latent_dim)
    decoder = kvae.layers.ConvDecoder(shape, upsampling=upsampling)

    class Sampling(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            epsilon = keras.random.normal(
                ops.shape(z_mean), seed=self.seed_generator
            )
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    class KerasIOVAE(keras.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder
            self.sampling = Sampling()
            self.total_loss_tracker = keras.metrics.Mean(name="total_loss")

        def train_step(self, data):
            with tf.GradientTape() as tape:
                z_mean, z_log_var = self.encoder(data)
                z = self.sampling([z_mean, z_log_var])
                logits = self.decoder(z)
                reconstruction_loss = ops.mean(
                    ops.sum(
                        keras.losses.binary_crossentropy(
                            data, logits, from_logits=True
                        ),
                        axis=(1, 2),
                    )
                )
                kl_loss = -0.5 * (
                    1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var)
                )
                kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
                total_loss = reconstruction_loss + kl_loss
            grads = tape.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total_loss_tracker.update_state(total_loss)
            return {"loss": self.total_loss_tracker.result()}

    model = KerasIOVAE(encoder, decoder)
    model.build((None,) + shape)
    model.encoder(ops.zeros((1,) + shape))
    model.decoder(ops.zeros((1, latent_dim)))
    return model


def time_fit(model, shape, batch_size, steps, epochs, image_metrics):
    """Median img/s over `epochs` timed epochs after one warm-up epoch."""
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = (rng.random((batch_size * steps,) + shape) < 0.3).astype("float32")
    durations = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            durations.append(time.perf_counter() - self.start)

    model.compile(optimizer="adam")
    model.fit(
        x,
        epochs=epochs + 1,
        batch_size=batch_size,
        shuffle=False,
        verbose=0,
        callbacks=[Timer()],
    )
    rates = [len(x) / d for d in durations[1:]]
    return statistics.median(rates), statistics.median(durations[1:])


def worker(args):
    import keras

    backend = keras.backend.backend()
    results = []
    for name in args.models:
        shape = MODELS[name][0]
        variants = [("kvae", True), ("kvae", False)]
        if name.startswith("conv") and backend == "tensorflow":
            variants.append(("keras.io train_step", None))
        for variant, image_metrics in variants:
            keras.utils.clear_session()
            if variant == "kvae":
                model = build_kvae(name, args.latent_dim)
                model.image_metrics = image_metrics
                if not image_metrics:
                    model.image_trackers = []
            else:
                model = build_keras_io_baseline(name, args.latent_dim)
            rate, epoch_time = time_fit(
                model,
                shape,
                args.batch_size,
                args.steps,
                args.epochs,
                image_metrics,
            )
            results.append(
                {
                    "backend": backend,
                    "model": name,
                    "variant": variant,
                    "image_metrics": image_metrics,
                    "img_per_s": rate,
                    "epoch_s": epoch_time,
                }
            )
            print(json.dumps(results[-1]), file=sys.stderr)
    print("RESULTS " + json.dumps(results))


def run_backend(backend, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker"]
    cmd += ["--models", *args.models, "--epochs", str(args.epochs)]
    cmd += ["--steps", str(args.steps), "--batch-size", str(args.batch_size)]
    cmd += ["--latent-dim", str(args.latent_dim)]
    proc = run_with_backend(cmd, backend, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULTS "):
            return json.loads(line[len("RESULTS ") :])
    print(proc.stderr[-3000:], file=sys.stderr)
    return [{"backend": backend, "error": proc.stderr.strip()[-300:]}]


def to_markdown(results, args):
    lines = [
        f"Batch {args.batch_size}, {args.steps} steps per epoch, median of "
        f"{args.epochs} epochs after a warm-up epoch; CPU. `metrics` = MSE, "
        "SSIM and PSNR tracked in the step.",
        "",
        "| model | backend | variant | metrics | img/s | epoch s |",
        "|---|---|---|---|---:|---:|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| - | {r['backend']} | failed: {r['error']} | | | |")
            continue
        metrics = {True: "on", False: "off", None: "-"}[r["image_metrics"]]
        lines.append(
            f"| {r['model']} | {r['backend']} | {r['variant']} | {metrics} | "
            f"{r['img_per_s']:.0f} | {r['epoch_s']:.2f} |"
        )
    ok = [r for r in results if "error" not in r]

    def rate(backend, model, variant="kvae", metrics=True):
        for r in ok:
            if (r["backend"], r["model"], r["variant"], r["image_metrics"]) == (
                backend,
                model,
                variant,
                metrics,
            ):
                return r["img_per_s"]
        return None

    lines += ["", "Ratios from the same run:", ""]
    for model in args.models:
        tf_rate = rate("tensorflow", model)
        for backend in BACKENDS[1:]:
            other = rate(backend, model)
            if tf_rate and other:
                lines.append(
                    f"- {model}: {backend}/tensorflow = {other / tf_rate:.2f}"
                )
        for backend in BACKENDS:
            on, off = rate(backend, model), rate(backend, model, metrics=False)
            if on and off:
                lines.append(
                    f"- {model} on {backend}: metrics on/off = {on / off:.2f}"
                )
        base = rate("tensorflow", model, "keras.io train_step", None)
        off = rate("tensorflow", model, metrics=False)
        if base and off:
            lines.append(
                f"- {model}: kvae (metrics off) / keras.io train_step on "
                f"tensorflow = {off / base:.2f}"
            )
        if base and tf_rate:
            lines.append(
                f"- {model}: kvae (metrics on) / keras.io train_step on "
                f"tensorflow = {tf_rate / base:.2f}"
            )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--title", default="Training throughput (CPU)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", action="store_true")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    results = []
    for backend in args.backends:
        results += run_backend(backend, args)
    table = to_markdown(results, args)
    print(table)
    if not args.no_write:
        sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
        from benchmarks.report import update_section

        update_section(args.title, table)


if __name__ == "__main__":
    main()
