"""Samplers fitted after training: new latent codes drawn from a density
fitted to the training images' codes instead of the prior.

Many VAEs generate far better this way: the posterior codes of the data do
not fill the prior, so decoding prior draws lands where no image was
encoded. Fit a sampler with one call and draw decoded images with
`sample(n, seed)`:

```python
sampler = kvae.samplers.GaussianMixtureSampler(num_components=10)
sampler.fit(model, x_train)
images = sampler.sample(64, seed=0)
sampler.save("sampler.npz")
sampler = kvae.samplers.load_sampler("sampler.npz", model)
```

A conditional model's sampler is fitted with the training labels,
`fit(model, x_train, labels=y_train)`, and draws with the labels asked
for, `sample(n, labels=7)`: one density for all classes, or one per class
(`by_class`).

- `GaussianMixtureSampler`: a full-covariance Gaussian mixture on the
  posterior means (Ghosh et al., 2020).
- `TwoStageSampler`: a second, small `kvae.VAE` trained on the codes (Dai
  and Wipf, 2019).
- `FlowSampler`: a RealNVP normalising flow trained on the codes (Dinh et
  al., 2017).
"""

from kvae.samplers.flow_sampler import FlowSampler
from kvae.samplers.gaussian_mixture_sampler import GaussianMixtureSampler
from kvae.samplers.sampler import Sampler
from kvae.samplers.sampler import load_sampler
from kvae.samplers.sampler import training_codes
from kvae.samplers.two_stage_sampler import TwoStageSampler

# The samplers by name, as recipes and configs name them.
SAMPLERS = {
    "gaussian_mixture": GaussianMixtureSampler,
    "two_stage": TwoStageSampler,
    "flow": FlowSampler,
}

__all__ = [
    "SAMPLERS",
    "FlowSampler",
    "GaussianMixtureSampler",
    "Sampler",
    "TwoStageSampler",
    "load_sampler",
    "training_codes",
]
