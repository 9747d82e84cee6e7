"""tfds split strings ("train[:90%]", "test[:8000]", "train+test") for the
routes that do not go through a tfds builder (IDX files, image folders)."""

import re
import types

from kvae.datasets.errors import DatasetError

_SYNTAX = (
    "Split strings follow tensorflow-datasets "
    "(https://www.tensorflow.org/datasets/splits): 'train', 'test[:8000]', "
    "'train[:90%]', 'train[90%:]', 'train[-1000:]', 'train+test', 'all'."
)


def _bad_split(name, split, split_sizes, reason):
    splits = ", ".join(f"{k} ({v:,} examples)" for k, v in split_sizes.items())
    return DatasetError(
        f"Bad split {split!r} for {name!r}: {reason}\n"
        f"Splits of {name!r}: {splits}. {_SYNTAX}"
    )


def resolve_split(name, split, split_sizes):
    """Turns a split string into `[(split_name, start, stop), ...]`.

    A string with slices is parsed by tensorflow-datasets itself
    (`tfds.core.ReadInstruction.from_spec(split).to_absolute(...)`), so the
    slicing, percent rounding ("closest") and `+` semantics are exactly those
    of `tfds.load`. Plain split names joined by `+` ("train+test", "all")
    are read here, without importing tensorflow-datasets (so that checking a
    config does not import it); where it is not installed (a JAX- or
    torch-only machine using the NumPy route), only those are accepted.

    Raises:
        DatasetError: for an unknown split, bad syntax, a slice out of range
            or one that selects no examples.
    """
    if not isinstance(split, str):
        raise _bad_split(
            name, split, split_sizes, f"expected a str, got {type(split)}."
        )
    tfds = None
    if "[" in split:  # only slices need tfds's parser (and its import)
        try:
            import tensorflow_datasets as tfds
        except ImportError:
            pass
    if tfds is None:
        parts = re.split(r"\s*\+\s*", split.strip())
        parts = list(split_sizes) if parts == ["all"] else parts
        for part in parts:
            if part not in split_sizes:
                # A slice gets here only where tfds is not installed.
                why = (
                    " (slicing needs tensorflow-datasets installed)"
                    if "[" in split
                    else ""
                )
                raise _bad_split(
                    name, split, split_sizes, f"Unknown split {part!r}{why}."
                )
        ranges = [(p, 0, split_sizes[p]) for p in parts]
    else:
        infos = {
            k: types.SimpleNamespace(num_examples=n, shard_lengths=[n])
            for k, n in split_sizes.items()
        }
        try:
            instruction = tfds.core.ReadInstruction.from_spec(split)
            absolute = instruction.to_absolute(infos)
        except (ValueError, NotImplementedError, KeyError, TypeError) as e:
            reason = " ".join(str(e).split())
            raise _bad_split(name, split, split_sizes, reason) from None
        ranges = []
        for a in absolute:
            n = split_sizes[a.splitname]
            start = 0 if a.from_ is None else a.from_
            stop = n if a.to is None else a.to
            ranges.append((a.splitname, start, max(start, stop)))
    if sum(stop - start for _, start, stop in ranges) == 0:
        raise _bad_split(name, split, split_sizes, "it selects no examples.")
    return ranges
