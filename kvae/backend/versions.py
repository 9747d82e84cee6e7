"""Release numbers, read one way for every version gate under kvae/backend."""


def major_minor(version):
    """`(major, minor)` of a version string: `"3.15.1"` -> `(3, 15)`."""
    return tuple(int(part) for part in version.split(".")[:2])
