"""The command line of a recipe, derived from the fields of its `Config`.

Every field is a flag (`batch_size` is `--batch-size`) whose help, parsing
and validation come from the field (`kvae.experiment.options.option`); the
recipe's own `Config` gives the defaults. `none` sets an optional field to
`None`; a boolean field is a `--flag/--no-flag` pair.
"""

import argparse
import dataclasses
import sys

from kvae import datasets
from kvae.experiment.config import Config
from kvae.experiment.errors import RunError
from kvae.experiment.options import FieldError
from kvae.experiment.options import flag_name

# The fields that name the data a run reads, besides the dataset.
DATA_FIELDS = (
    "manual_dir",
    "train_split",
    "test_split",
    "image_size",
    "binarize",
)


def argument_parser(config, description=None):
    """An `argparse` parser with one flag per field of `config`.

    The flags default to "not given" (so the config keeps its value) and
    their help shows `config`'s value as the default.
    """
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_field_flags(parser, config)
    return parser


def add_field_flags(parser, config, names=None):
    """Adds to `parser` the flags of the fields `names` of `config` (all
    fields with `None`), made as `argument_parser` makes them."""
    for field in dataclasses.fields(config):
        if names is not None and field.name not in names:
            continue
        meta = field.metadata
        kwargs = {
            "dest": field.name,
            "default": argparse.SUPPRESS,
            "help": _help(meta, getattr(config, field.name)),
        }
        if meta["parse"] is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = _converter(field)
            kwargs["metavar"] = _metavar(field)
            if meta["nargs"] is not None:
                kwargs["nargs"] = meta["nargs"]
        parser.add_argument(flag_name(field.name), **kwargs)


def add_data_flags(parser, names=DATA_FIELDS):
    """Adds the flags of the data fields `names` (of `DATA_FIELDS`) to
    the parser of a script that reads a dataset as a run does; the script
    adds its own `--dataset`, then calls `data_config`."""
    add_field_flags(parser, Config(), names)


def data_config(parser, args, **fields):
    """The `Config` of a script's data: `args.dataset`, the data flags
    given on its command line (see `add_data_flags`) and `fields`.

    A value that is not allowed exits with `parser`'s usage message, as
    a recipe's flags do.
    """
    given = {
        name: getattr(args, name)
        for name in ("dataset", *DATA_FIELDS)
        if hasattr(args, name)
    }
    try:
        return Config(**given, **fields)
    except ValueError as error:
        parser.error(flag_message(error))


def parse_args(config, argv=None, description=None):
    """`config` with the fields named on the command line `argv` replaced.

    Args:
        config: a `Config` (the recipe's defaults).
        argv: list of str, or `None` for `sys.argv[1:]`.
        description: str or `None`. The `--help` text above the flags
            (a recipe passes its docstring).

    Returns:
        A new `Config`. A value that does not parse or is not allowed
        exits with a usage message naming the flag (status 2).
    """
    parser = argument_parser(config, description)
    given = vars(parser.parse_args(argv))
    values = {}
    for field in dataclasses.fields(config):
        if field.name not in given:
            continue
        value = given[field.name]
        if isinstance(value, list):
            value = None if value == [None] else tuple(value)
        values[field.name] = value
    try:
        return dataclasses.replace(config, **values)
    except ValueError as error:
        parser.error(flag_message(error))


def flag_message(error):
    """The message of a `Config` error, naming flags where it names one
    field."""
    if isinstance(error, FieldError):
        return error.flag_message()
    return str(error)


def cli(main, argv=None):
    """Runs a recipe's `main(argv)`, turning known errors into a message.

    A `kvae.datasets.DatasetError` (missing files, no network) says what
    to do; it is printed without a traceback and the exit status is 2. A
    `kvae.experiment.errors.RunError` (an output folder in use, training
    that diverged) is printed the same way, with exit status 1.
    """
    try:
        main(sys.argv[1:] if argv is None else argv)
    except datasets.DatasetError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except RunError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        raise SystemExit(1) from None


def _converter(field):
    parse = field.metadata["parse"]
    optional = _optional(field)

    def convert(text):
        if optional and text.lower() == "none":
            return None
        return parse(text)

    # argparse names the converter in its "invalid ... value" message.
    convert.__name__ = getattr(parse, "__name__", "value").lstrip("_")
    return convert


def _metavar(field):
    meta = field.metadata
    if meta["choices"] is None:
        return {int: "N", float: "X"}.get(meta["parse"], "TEXT")
    choices = [str(c) for c in meta["choices"]]
    if _optional(field) and "none" not in choices:
        choices.append("none")
    return "{" + ",".join(choices) + "}"


def _optional(field):
    return field.default is None or "None" in str(field.type)


def _help(meta, value):
    text = meta["help"]
    shown = " ".join(map(str, value)) if isinstance(value, tuple) else value
    text += f" (default: {shown})"
    # argparse %-formats help strings.
    return text.replace("%", "%%")
