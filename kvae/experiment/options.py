"""How a `Config` field is declared, parsed and checked.

`option(...)` makes a dataclass field that carries its help text, how a
command-line string becomes its value and what values it accepts;
`validate` applies those rules. The checks below are the ones the
`Config` fields use.
"""

import dataclasses
import math
import numbers
import os
import re

from kvae import model_args


def flag_name(field_name):
    """The flag of a `Config` field: `"batch_size"` -> `"--batch-size"`."""
    return "--" + field_name.replace("_", "-")


class FieldError(ValueError):
    """A value one `Config` field does not allow.

    The message names the field (`Config(epochs=0)`: "epochs must be a
    positive int"); `flag_message()` says the same with the field's flag,
    for a command line ("--epochs must be a positive int").
    """

    def __init__(self, name, template):
        # `template` holds "{}" where the field's name goes (its first
        # "{}": the rest may quote a value with braces).
        self.name, self.template = name, template
        super().__init__(template.replace("{}", name, 1))

    def flag_message(self):
        return self.template.replace("{}", flag_name(self.name), 1)


def is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive(value):
    if not is_int(value) or value < 1:
        raise ValueError(f"must be a positive int, got {value!r}")


def non_negative(value):
    if not is_int(value) or value < 0:
        raise ValueError(f"must be an int >= 0, got {value!r}")


SIGMA_NAMES = ("learned", "optimal")


def sigma(value):
    error = model_args.sigma_error(value)
    if error:
        raise ValueError(error)


def is_finite_real(value):
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def positive_float(value):
    if not is_finite_real(value) or value <= 0:
        raise ValueError(f"must be a positive, finite number, got {value!r}")


def finite_non_negative(value):
    if not is_finite_real(value) or value < 0:
        raise ValueError(f"must be a finite number >= 0, got {value!r}")


def open_fraction(value):
    if not is_finite_real(value) or not 0 < value < 1:
        raise ValueError(
            f"must be a number between 0 and 1 (both excluded), got {value!r}"
        )


# Seeds go to NumPy and the backends, which take unsigned 32-bit ints.
MAX_SEED = 2**32 - 1


def seed(value):
    if not is_int(value) or not 0 <= value <= MAX_SEED:
        raise ValueError(f"must be an int in [0, {MAX_SEED}], got {value!r}")


# One part of a tensorflow-datasets split string: a name, optionally sliced
# by examples or percent ("train", "test[:8000]", "train[90%:]",
# "train[-1000:]"); parts are joined by "+". The slice is checked against
# the split's size when the data is loaded.
BOUND = r"-?\d+%?"
SPLIT_PART = re.compile(rf"^\s*\w+(\[({BOUND})?:({BOUND})?\]|\[-?\d+\])?\s*$")


def split(value):
    if not isinstance(value, str) or not all(
        SPLIT_PART.match(part) for part in value.split("+")
    ):
        raise ValueError(
            f"is not a split string, got {value!r}; write it as "
            "tensorflow-datasets does: 'train', 'test[:8000]', "
            "'train[:90%]', 'train[90%:]', 'train+test'"
        )


def out(value):
    if os.path.isfile(value):
        raise ValueError(
            f"must be a folder, but {value!r} is an existing file; choose "
            "another --out"
        )


def keras_file(value):
    if value is not None and not (
        str(value).endswith(".keras") and os.path.isfile(value)
    ):
        raise ValueError(
            f"must be an existing .keras file, got {value!r}; train one with "
            "recipes/feature_classifier.py"
        )


def parse_sigma(text):
    return text if text in SIGMA_NAMES else float(text)


def option(default, help, parse=str, nargs=None, choices=None, check=None):
    """A `Config` field: its default and how it is set and checked.

    Args:
        default: the field's default value.
        help: str. What the field means; the flag's help text and the
            field's line in `Config`'s docstring.
        parse: callable. Turns one command-line string into a value (or
            one element of a tuple field); `bool` makes a
            `--flag/--no-flag` pair.
        nargs: `None`, "+", "*" or an int. Tuple fields take several
            values after their flag.
        choices: tuple or `None`. The allowed values (of each element, for
            a tuple field).
        check: callable or `None`. Raises `ValueError` for a bad value (or
            element); `None` values are not checked.
    """
    metadata = {
        "help": help,
        "parse": parse,
        "nargs": nargs,
        "choices": choices,
        "check": check,
    }
    return dataclasses.field(default=default, metadata=metadata)


COUNT = {"parse": int, "check": positive}


def validate(field, value):
    """Raises `ValueError` naming `field` if `value` breaks its metadata."""
    meta = field.metadata
    if value is None:
        return
    values = value if meta["nargs"] is not None else (value,)
    if meta["nargs"] is not None and not isinstance(value, tuple):
        raise FieldError(
            field.name, f"{{}} must be a tuple, got {type(value).__name__}."
        )
    if isinstance(meta["nargs"], int) and len(values) != meta["nargs"]:
        raise FieldError(
            field.name, f"{{}} takes {meta['nargs']} values, got {value!r}."
        )
    for item in values:
        if meta["choices"] is not None and item not in meta["choices"]:
            raise FieldError(
                field.name,
                f"Unknown {{}} {item!r}; choose from {list(meta['choices'])}.",
            )
        if meta["check"] is not None:
            try:
                meta["check"](item)
            except ValueError as error:
                raise FieldError(field.name, f"{{}} {error}.") from None
