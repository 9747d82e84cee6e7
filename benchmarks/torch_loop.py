"""The conv VAE as a plain PyTorch program, in the style of pytorch/examples.

What many users would write instead of kvae: `nn.Module`s, an explicit loop,
`loss.backward()`, `optimizer.step()`, no Keras. The layers are the same as
kvae's default `ConvEncoder(16)` + `ConvDecoder()` (pixel-shuffle
upsampling): stride-2 3x3 convolutions 1->32->64, Dense 3136->128, a
Gaussian head of 16; Dense 16->128->3136, two sub-pixel convolutions
(2x2 kernels to 4x the channels, then `pixel_shuffle`) 64->64->32, and a
3x3 convolution to 1 channel. Same loss (Bernoulli log-likelihood summed
over pixels plus the analytic KL, averaged over the batch), same optimizer
(Adam, learning rate 1e-3) and same batches as `benchmarks/train_speed.py`.
No image metrics are computed here; compare with kvae's "metrics off" rows
for the like-for-like figure.

    python benchmarks/torch_loop.py --batch-size 128 --epochs 5
    python benchmarks/torch_loop.py --compile
"""

import argparse
import statistics
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class Encoder(nn.Module):
    def __init__(self, latent_dim=16):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.fc = nn.Linear(64 * 7 * 7, 128)
        self.mean = nn.Linear(128, latent_dim)
        self.log_var = nn.Linear(128, latent_dim)

    def forward(self, x):
        h = F.relu(self.conv2(F.relu(self.conv1(x))))
        h = F.relu(self.fc(torch.flatten(h, 1)))
        return self.mean(h), self.log_var(h)


class Decoder(nn.Module):
    def __init__(self, latent_dim=16):
        super().__init__()
        self.fc1 = nn.Linear(latent_dim, 128)
        self.fc2 = nn.Linear(128, 64 * 7 * 7)
        self.up1 = nn.Conv2d(64, 4 * 64, 2, padding="same")
        self.up2 = nn.Conv2d(64, 4 * 32, 2, padding="same")
        self.out = nn.Conv2d(32, 1, 3, padding=1)

    def forward(self, z):
        h = F.relu(self.fc2(F.relu(self.fc1(z)))).view(-1, 64, 7, 7)
        h = F.relu(F.pixel_shuffle(self.up1(h), 2))
        h = F.relu(F.pixel_shuffle(self.up2(h), 2))
        return self.out(h)


class VAE(nn.Module):
    def __init__(self, latent_dim=16):
        super().__init__()
        self.encoder = Encoder(latent_dim)
        self.decoder = Decoder(latent_dim)

    def forward(self, x):
        mu, log_var = self.encoder(x)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
        return self.decoder(z), mu, log_var


def loss_function(logits, x, mu, log_var):
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    kl = -0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp(), dim=1)
    return (bce.sum(dim=(1, 2, 3)) + kl).mean()


class PlainTorchVAE:
    """Model, optimizer and an epoch function over fixed batches.

    Args:
        x: NumPy array `(n, 28, 28, 1)` (channels last, as kvae takes it);
            stored channels first, the layout PyTorch's layers use.
        batch_size: int.
        compile: bool. Train through `torch.compile` of the step.
        precision: str. `"float32"` or `"mixed_bfloat16"` (autocast to
            bfloat16, as Keras's mixed policy computes).
    """

    def __init__(self, x, batch_size, compile=False, precision="float32"):
        torch.manual_seed(0)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = VAE().to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        data = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        self.batches = data.to(self.device).split(batch_size)
        self.precision = precision
        self.step = torch.compile(self._step) if compile else self._step

    def _step(self, x):
        self.optimizer.zero_grad()
        with torch.autocast(
            self.device,
            dtype=torch.bfloat16,
            enabled=self.precision == "mixed_bfloat16",
        ):
            logits, mu, log_var = self.model(x)
            loss = loss_function(logits.float(), x, mu.float(), log_var.float())
        loss.backward()
        self.optimizer.step()
        return loss

    def epoch(self):
        """Trains one pass over the batches; returns the last loss."""
        self.model.train()
        for x in self.batches:
            loss = self.step(x)
        if self.device == "cuda":
            torch.cuda.synchronize()
        return float(loss.detach())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--precision", default="float32")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((args.batch_size * args.steps, 28, 28, 1)) < 0.3
    loop = PlainTorchVAE(
        x.astype("float32"), args.batch_size, args.compile, args.precision
    )
    loop.epoch()
    rates = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        loss = loop.epoch()
        rates.append(len(x) / (time.perf_counter() - start))
    print(
        f"plain PyTorch loop{' (torch.compile)' if args.compile else ''}: "
        f"{statistics.median(rates):.0f} img/s, last loss {loss:.1f}"
    )


if __name__ == "__main__":
    main()
