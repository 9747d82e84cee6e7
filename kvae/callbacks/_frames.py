"""Frame drawing shared by the kvae callbacks.

Everything here is NumPy, Pillow and matplotlib's object API (a `Figure` on
an Agg canvas): no pyplot state, no window, safe in threads and on servers.
"""

import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from kvae.utils.files import atomic_path

# Layout of image-grid frames, in pixels.
GAP = 2  # white space between cells
GROUP_GAP = 6  # white space between groups (pairs of rows)
MARGIN = 4  # white space around the grid
LABEL_HEIGHT = 22  # the caption strip above the grid
MIN_CELL = 48  # small images are upscaled to at least this size
BACKGROUND = 255
TEXT_COLOR = "#222222"
DPI = 100


def default_scale(image_shape):
    """Integer upscaling that makes a cell at least `MIN_CELL` pixels."""
    return max(1, math.ceil(MIN_CELL / max(image_shape[:2])))


def check_grid_size(grid_size, name="grid_size"):
    """`int` or `(rows, cols)` -> `(rows, cols)` of positive ints."""
    if isinstance(grid_size, (int, np.integer)):
        grid_size = (grid_size, grid_size)
    try:
        rows, cols = (int(g) for g in grid_size)
    except (TypeError, ValueError):
        raise ValueError(
            f"`{name}` must be an int or a pair (rows, cols); got "
            f"{grid_size!r}."
        ) from None
    if rows < 1 or cols < 1:
        raise ValueError(f"`{name}` must be positive; got {(rows, cols)}.")
    return rows, cols


def check_images(images, what="images", min_count=1, take=None):
    """Validation images as float32 `(n, height, width, channels)`: the
    first `take` of them (all by default), after checking there are at
    least `min_count`."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"`{what}` must be a NumPy array of images of shape (n, height, "
            "width, channels) with 1 (grayscale) or 3 (RGB) channels; got "
            f"shape {images.shape}."
        )
    if not np.issubdtype(images.dtype, np.number):
        raise ValueError(f"`{what}` must hold numbers; got {images.dtype}.")
    if len(images) < min_count:
        raise ValueError(
            f"`{what}` holds {len(images)} images, but {min_count} are "
            "needed for the frames asked for. Pass more validation images "
            "or ask for fewer."
        )
    return images[:take].astype("float32")


def check_value_range(value_range):
    low, high = (float(v) for v in value_range)
    if not high > low:
        raise ValueError(
            f"`value_range` must be (low, high) with high > low; got "
            f"{value_range!r}."
        )
    return low, high


def to_uint8(images, value_range=(0.0, 1.0)):
    """Maps images from `value_range` to bytes, clipping outside values."""
    low, high = value_range
    images = (np.asarray(images, "float32") - low) / (high - low)
    return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype("uint8")


def tile(images, cols, scale=1, group_rows=1):
    """Tiles `(n, h, w, c)` bytes into one image with thin white gaps.

    Cells are upscaled by `scale` (nearest neighbour, so pixels stay sharp).
    Every `group_rows` rows the gap is wider, which pairs originals with
    their reconstructions. Grayscale stays one channel.
    """
    images = np.asarray(images)
    if scale > 1:
        images = images.repeat(scale, axis=1).repeat(scale, axis=2)
    n, h, w, c = images.shape
    rows = math.ceil(n / cols)
    gaps = [0] + [
        GROUP_GAP if group_rows > 1 and r % group_rows == 0 else GAP
        for r in range(1, rows)
    ]
    height = 2 * MARGIN + rows * h + sum(gaps)
    width = 2 * MARGIN + cols * w + (cols - 1) * GAP
    canvas = np.full((height, width, c), BACKGROUND, "uint8")
    y = MARGIN
    for r in range(rows):
        y += gaps[r]
        for col in range(cols):
            i = r * cols + col
            if i >= n:
                break
            x = MARGIN + col * (w + GAP)
            canvas[y : y + h, x : x + w] = images[i]
        y += h
    return canvas[..., 0] if c == 1 else canvas


def caption(texts, width, grayscale):
    """A white strip of `LABEL_HEIGHT` pixels with a centred caption: the
    first of `texts` that fits in `width`, shrunk if even the last does
    not."""
    figure = Figure(figsize=(width / DPI, LABEL_HEIGHT / DPI), dpi=DPI)
    figure.patch.set_facecolor("white")
    canvas = FigureCanvasAgg(figure)
    room = width - 2 * MARGIN
    text = figure.text(
        0.5,
        0.45,
        "",
        ha="center",
        va="center",
        fontsize=9.5,
        color=TEXT_COLOR,
    )
    renderer = canvas.get_renderer()
    for candidate in texts:
        text.set_text(candidate)
        text_width = text.get_window_extent(renderer).width
        if text_width <= room:
            break
    else:
        text.set_fontsize(max(5.0, 9.5 * room / text_width))
    strip = render(figure)
    if strip.shape[:2] != (LABEL_HEIGHT, width):
        strip = _fit(strip, LABEL_HEIGHT, width)
    if grayscale:
        return np.round(strip.mean(axis=-1)).astype("uint8")
    return strip


def labelled(grid, label, title=None, strip=None):
    """`grid` with a caption strip on top: `"title · label"`, or only
    `label` where the grid is too narrow for both. A `strip` made before
    for the same caption and width can be passed again."""
    if strip is None:
        strip = label_strip(label, title, grid.shape[1], grid.ndim == 2)
    return np.concatenate([strip, grid], axis=0)


def label_strip(label, title, width, grayscale):
    texts = [label] if title is None else [f"{title} \u00b7 {label}", label]
    return caption(texts, width, grayscale=grayscale)


def render(figure):
    """Draws a matplotlib `Figure` off-screen to an RGB byte array."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _fit(image, height, width):
    """Crops or pads (white) `image` to exactly `height` x `width`."""
    out = np.full((height, width) + image.shape[2:], BACKGROUND, "uint8")
    h = min(height, image.shape[0])
    w = min(width, image.shape[1])
    out[:h, :w] = image[:h, :w]
    return out


# Grayscale GIFs keep 32 gray levels: hard to tell from 256 in these frames,
# and files about half the size (measured on MNIST sample grids).
GRAY_LEVELS = 32
_GRAY_PALETTE = [
    round(i * 255 / (GRAY_LEVELS - 1))
    for i in range(GRAY_LEVELS)
    for _ in "rgb"
]


def to_palette_image(frame):
    """Bytes `(h, w)` or `(h, w, 3)` -> a Pillow palette ("P") image.

    Gray frames get a fixed palette of `GRAY_LEVELS` grays; RGB frames an
    adaptive palette of 256 colours of their own. Palette images with an
    RGB palette read back the same way everywhere (imageio, browsers).
    """
    frame = np.asarray(frame, "uint8")
    if frame.ndim == 3:
        return Image.fromarray(frame).quantize(
            colors=256,
            method=Image.Quantize.FASTOCTREE,
            dither=Image.Dither.NONE,
        )
    levels = np.round(frame * ((GRAY_LEVELS - 1) / 255.0)).astype("uint8")
    image = Image.frombytes(
        "P", (frame.shape[1], frame.shape[0]), np.ascontiguousarray(levels)
    )
    image.putpalette(_GRAY_PALETTE)
    return image


class GIFWriter:
    """Accumulates frames and rewrites a looping GIF atomically.

    Frames are converted to palette images once, when added; each write
    then only encodes them.

    Args:
        path: str. The GIF file.
        frame_duration: float. Seconds per frame.
        end_pause: float. Seconds the last frame is held before looping.
    """

    def __init__(self, path, frame_duration, end_pause=0.0):
        self.path = path
        self.frame_duration = frame_duration
        self.end_pause = end_pause
        self.frames = []

    def reset(self):
        self.frames = []

    def add(self, frame):
        self.frames.append(to_palette_image(frame))

    def write(self, durations=None):
        """Writes all frames so far; `durations` (seconds) per frame, or
        `frame_duration` each with the last held `end_pause` longer."""
        if not self.frames:
            return
        if durations is None:
            durations = [self.frame_duration] * len(self.frames)
            durations[-1] = max(durations[-1], self.end_pause)
        durations = [max(10, int(round(1000 * d))) for d in durations]
        first, rest = self.frames[0], self.frames[1:]
        with atomic_path(self.path) as tmp:
            first.save(
                tmp,
                format="GIF",
                save_all=True,
                append_images=rest,
                duration=durations if rest else durations[0],
                loop=0,
            )
