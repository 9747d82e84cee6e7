"""Pieces of matplotlib figures that the callbacks and the run reports
share."""


def legend_dot(color, label, size):
    """A legend handle: one round marker of `color`, named `label`.

    Args:
        color: a matplotlib colour.
        label: str. The legend's text for it.
        size: float. Marker size in points.

    Example:

    ```python
    axes.legend(handles=[kvae.utils.legend_dot("C0", "train", size=6)])
    ```
    """
    from matplotlib.lines import Line2D

    return Line2D(
        [],
        [],
        linestyle="",
        marker="o",
        markersize=size,
        color=color,
        label=label,
    )
