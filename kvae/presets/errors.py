"""`PresetError`: a preset that cannot be found, read or loaded."""


class PresetError(ValueError):
    """A preset name that is not known, a preset folder that is incomplete
    or corrupt, or a preset of another model class.

    Its message names the preset, says what is wrong (the missing file, the
    known names, the class it holds) and what to do.
    """
