"""Image-quality metrics for reconstructions: `SSIM` and `PSNR`."""

from kvae.metrics.psnr import PSNR
from kvae.metrics.ssim import SSIM

__all__ = ["PSNR", "SSIM"]
