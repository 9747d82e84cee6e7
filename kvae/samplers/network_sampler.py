"""`NetworkSampler`: the part shared by the samplers whose density is a
Keras network trained on the standardised codes (`TwoStageSampler`,
`FlowSampler`)."""

from kvae.samplers.sampler import Sampler


class NetworkSampler(Sampler):
    """A `Sampler` whose density is a Keras network trained on the codes
    standardised per dimension.

    Subclasses call `standardise` in `fit_codes`, `unstandardise` in
    `draw`, and save and restore their network with `network_state` and
    `restore_network`: the file holds the shift and scale of the codes and
    the network's weights.
    """

    def standardise(self, codes):
        """Stores the codes' mean and standard deviation per dimension and
        returns the codes standardised with them (float32)."""
        self.shift = codes.mean(axis=0)
        self.scale = codes.std(axis=0) + 1e-6
        return self.standardised(codes)

    def standardised(self, codes):
        """Codes standardised with the stored statistics (float32)."""
        return ((codes - self.shift) / self.scale).astype("float32")

    def unstandardise(self, standardised):
        """Codes from standardised codes (float64 NumPy)."""
        return standardised.astype("float64") * self.scale + self.shift

    def network_state(self, network, config):
        """`(config, arrays)` of `state()`: `config` with the weight count
        added, and the arrays of the standardisation and of `network`'s
        weights."""
        weights = network.get_weights()
        arrays = {"shift": self.shift, "scale": self.scale}
        arrays.update({f"weight_{i}": w for i, w in enumerate(weights)})
        return {**config, "num_weights": len(weights)}, arrays

    def restore_network(self, build, config, arrays):
        """Restores the standardisation of `arrays` and returns the network
        `build(code_dim)` with the weights saved by `network_state`."""
        self.shift = arrays["shift"]
        self.scale = arrays["scale"]
        network = build(len(self.shift))
        network.set_weights(
            [arrays[f"weight_{i}"] for i in range(config["num_weights"])]
        )
        return network
