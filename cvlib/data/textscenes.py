"""Generated scenes that come with text: captions, questions and answers (lesson 12, both profiles).

Each scene is a light, slightly noisy canvas with a few flat-coloured objects, each of
one colour (:data:`COLOURS`), one shape (:data:`SHAPES`) and one size (:data:`SIZES`),
placed in one cell of a 3 x 3 grid (rows :data:`ROWS`, columns :data:`COLUMNS`) with a
little jitter; no two objects share a cell, so every object is fully visible and its
pixel mask and box are exact. Because the generator knows every object, it can write
the text that goes with the picture:

* :func:`caption` -- ``"a large red circle at the top left"`` (one object, with its
  place; lesson 12's matching section) or ``"a small red circle and a large blue
  square"`` (objects in reading order, top to bottom and left to right; captioning);
* :func:`questions` -- visual questions of five types (:data:`QUESTION_TYPES`: count,
  colour, shape, exist, position) with their one-word answers (:data:`ANSWERS`).

:class:`Vocabulary` turns text into token ids and back (the words are fixed by the
generator, so the vocabulary is the same on every machine).

Everything is generated from a seed: scene ``i`` depends only on ``(seed, i)``. The
``exclude`` option leaves colour-shape combinations out (lesson 12 holds
:data:`HELD_OUT_PAIRS` out of training to test zero-shot generalisation to unseen
compositions); ``only`` draws nothing but the given combinations. No download.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from skimage.draw import disk, polygon

COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple")
COLOUR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (215, 40, 40),
    "green": (40, 160, 60),
    "blue": (40, 80, 215),
    "yellow": (235, 200, 30),
    "purple": (150, 60, 180),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
SIZES: tuple[str, ...] = ("small", "large")
ROWS: tuple[str, ...] = ("top", "middle", "bottom")
COLUMNS: tuple[str, ...] = ("left", "centre", "right")
HELD_OUT_PAIRS: tuple[tuple[str, str], ...] = (
    ("red", "triangle"),
    ("green", "diamond"),
    ("blue", "circle"),
    ("yellow", "square"),
    ("purple", "triangle"),
)
"""Colour-shape combinations lesson 12 never shows in training: each colour once, every shape at least once."""

QUESTION_TYPES: tuple[str, ...] = ("count", "colour", "shape", "exist", "position")
NUMBER_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four")
ANSWERS: tuple[str, ...] = NUMBER_WORDS + COLOURS + SHAPES + ("yes", "no") + COLUMNS
"""Every possible answer (one word each); a VQA model classifies into these."""

SPECIALS: tuple[str, ...] = ("<pad>", "<bos>", "<eos>", "<unk>")
WORDS: tuple[str, ...] = (
    ("a", "and", "at", "the", "in", "on")
    + COLOURS
    + SHAPES
    + SIZES
    + ROWS
    + COLUMNS
    + ("how", "many", "objects", "are", "there", "what", "colour", "is", "shape", "object", "where", "column", "?")
    + NUMBER_WORDS
    + ("yes", "no")
)


@dataclass(frozen=True)
class SceneObject:
    """One object of a scene: its attributes, its grid cell and its box ``(x1, y1, x2, y2)`` in pixels (x2, y2 exclusive)."""

    colour: str
    shape: str
    size: str
    row: int
    column: int
    box: tuple[int, int, int, int]


@dataclass
class TextScene:
    """One generated scene.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB.
        objects: the objects in reading order (row, then column).
        masks: ``(N, H, W)`` bool, one exact mask per object (same order).
    """

    image: np.ndarray
    objects: tuple[SceneObject, ...]
    masks: np.ndarray


def _shape_mask(shape: str, size: int, cx: float, cy: float, diameter: float) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    r = diameter / 2
    if shape == "circle":
        rr, cc = disk((cy, cx), r, shape=(size, size))
    elif shape == "square":
        h = r * 0.85
        rr, cc = polygon([cy - h, cy - h, cy + h, cy + h], [cx - h, cx + h, cx + h, cx - h], shape=(size, size))
    elif shape == "triangle":
        rr, cc = polygon([cy - r, cy + r * 0.8, cy + r * 0.8], [cx, cx + r, cx - r], shape=(size, size))
    elif shape == "diamond":
        rr, cc = polygon([cy - r, cy, cy + r, cy], [cx, cx + r, cx, cx - r], shape=(size, size))
    else:
        raise ValueError(f"unknown shape {shape!r}; use one of {SHAPES}.")
    mask[rr, cc] = True
    return mask


def _check_pairs(pairs: Iterable[tuple[str, str]], what: str) -> set[tuple[str, str]]:
    out = set()
    for pair in pairs:
        if len(pair) != 2 or pair[0] not in COLOURS or pair[1] not in SHAPES:
            raise ValueError(f"{what} must hold (colour, shape) pairs from {COLOURS} x {SHAPES}; got {pair!r}.")
        out.add((pair[0], pair[1]))
    return out


def make_text_scene(
    rng: np.random.Generator,
    size: int = 48,
    n_objects: int = 1,
    exclude: Iterable[tuple[str, str]] = (),
    only: Iterable[tuple[str, str]] = (),
) -> TextScene:
    """Draw one scene with ``n_objects`` (1-9) objects in distinct cells of the 3 x 3 grid.

    ``exclude``/``only`` restrict the colour-shape combinations drawn (``only`` wins when both are given).
    """
    if not 1 <= n_objects <= 9:
        raise ValueError(f"n_objects must be 1..9 (a 3 x 3 grid of cells); got {n_objects}.")
    if size < 24:
        raise ValueError(f"size must be at least 24 pixels; got {size}.")
    allowed = _check_pairs(only, "only") or {(c, s) for c in COLOURS for s in SHAPES} - _check_pairs(exclude, "exclude")
    if not allowed:
        raise ValueError("exclude leaves no colour-shape combination to draw.")
    pairs = sorted(allowed)
    base = rng.uniform(0.82, 0.95)
    image = base + rng.normal(0.0, 0.02, (size, size, 1)) + rng.normal(0.0, 0.015, (size, size, 3))
    image = np.clip(image, 0, 1)
    cell = size / 3
    cells = sorted(rng.choice(9, size=n_objects, replace=False).tolist())
    objects, masks = [], []
    for index in cells:
        row, column = divmod(index, 3)
        colour, shape = pairs[rng.integers(len(pairs))]
        size_word = SIZES[rng.integers(2)]
        diameter = cell * (0.5 if size_word == "small" else 0.85)
        slack = (cell - diameter) / 2
        cx = (column + 0.5) * cell + rng.uniform(-slack, slack) * 0.8
        cy = (row + 0.5) * cell + rng.uniform(-slack, slack) * 0.8
        mask = _shape_mask(shape, size, cx, cy, diameter)
        rgb = np.array(COLOUR_RGB[colour]) / 255 + rng.normal(0, 0.03, 3)
        image[mask] = np.clip(rgb, 0, 1)
        ys, xs = np.nonzero(mask)
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        objects.append(SceneObject(colour, shape, size_word, row, column, box))
        masks.append(mask)
    return TextScene((image * 255).round().astype(np.uint8), tuple(objects), np.stack(masks))


def make_text_scenes(
    n: int,
    seed: int = 0,
    size: int = 48,
    min_objects: int = 1,
    max_objects: int = 1,
    exclude: Iterable[tuple[str, str]] = (),
    only: Iterable[tuple[str, str]] = (),
) -> list[TextScene]:
    """``n`` scenes with ``min_objects..max_objects`` objects each; scene ``i`` depends only on ``(seed, i)``."""
    if n < 1:
        raise ValueError(f"n must be at least 1; got {n}.")
    if not 1 <= min_objects <= max_objects <= 9:
        raise ValueError(f"need 1 <= min_objects <= max_objects <= 9; got {min_objects}, {max_objects}.")
    exclude, only = tuple(exclude), tuple(only)
    scenes = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        k = int(rng.integers(min_objects, max_objects + 1))
        scenes.append(make_text_scene(rng, size, k, exclude, only))
    return scenes


def scene_images(scenes: Sequence[TextScene]) -> torch.Tensor:
    """The scenes' images as one ``(N, 3, H, W)`` float32 tensor in [0, 1]."""
    if not scenes:
        raise ValueError("scene_images needs at least one scene.")
    return torch.from_numpy(np.stack([s.image for s in scenes])).permute(0, 3, 1, 2).float() / 255


def position_words(obj: SceneObject) -> str:
    """``"top left"`` ... ``"bottom right"``; the middle cell is ``"centre"``."""
    if obj.row == 1 and obj.column == 1:
        return "centre"
    return f"{ROWS[obj.row]} {COLUMNS[obj.column]}"


def caption(scene: TextScene, positions: bool | None = None) -> str:
    """The scene described in words, objects in reading order.

    With ``positions`` (the default for one object) each object's place is said:
    ``"a large red circle at the top left"`` / ``"... in the centre"``; without:
    ``"a small red circle and a large blue square"``.
    """
    positions = len(scene.objects) == 1 if positions is None else positions
    parts = []
    for obj in scene.objects:
        words = f"a {obj.size} {obj.colour} {obj.shape}"
        if positions:
            place = position_words(obj)
            words += " in the centre" if place == "centre" else f" at the {place}"
        parts.append(words)
    return " and ".join(parts)


def questions(scene: TextScene, rng: np.random.Generator) -> list[tuple[str, str, str]]:
    """One question of each answerable type about ``scene``: ``(question, answer, type)`` triples.

    * count: ``"how many objects are there ?"`` or ``"how many red objects are there ?"`` (half each);
    * colour: ``"what colour is the circle ?"`` (asked about a shape present exactly once);
    * shape: ``"what shape is the red object ?"`` (a colour present exactly once);
    * exist: ``"is there a red circle ?"`` -- yes or no with equal probability;
    * position: ``"where is the red circle ?"`` -- its column (left, centre, right).

    A type is skipped when the scene cannot answer it unambiguously (no shape present once, ...).
    """
    objs = scene.objects
    out: list[tuple[str, str, str]] = []
    if rng.random() < 0.5:
        out.append(("how many objects are there ?", NUMBER_WORDS[len(objs)], "count"))
    else:
        colour = COLOURS[rng.integers(len(COLOURS))]
        n = sum(o.colour == colour for o in objs)
        out.append((f"how many {colour} objects are there ?", NUMBER_WORDS[n], "count"))
    shapes = [o.shape for o in objs]
    once = [o for o in objs if shapes.count(o.shape) == 1]
    if once:
        o = once[rng.integers(len(once))]
        out.append((f"what colour is the {o.shape} ?", o.colour, "colour"))
    colours = [o.colour for o in objs]
    once = [o for o in objs if colours.count(o.colour) == 1]
    if once:
        o = once[rng.integers(len(once))]
        out.append((f"what shape is the {o.colour} object ?", o.shape, "shape"))
    present = {(o.colour, o.shape) for o in objs}
    if rng.random() < 0.5:
        colour, shape = sorted(present)[rng.integers(len(present))]
        out.append((f"is there a {colour} {shape} ?", "yes", "exist"))
    else:
        absent = sorted({(c, s) for c in COLOURS for s in SHAPES} - present)
        colour, shape = absent[rng.integers(len(absent))]
        out.append((f"is there a {colour} {shape} ?", "no", "exist"))
    pairs = [(o.colour, o.shape) for o in objs]
    unique = [o for o in objs if pairs.count((o.colour, o.shape)) == 1]
    if unique:
        o = unique[rng.integers(len(unique))]
        out.append((f"where is the {o.colour} {o.shape} ?", COLUMNS[o.column], "position"))
    return out


def make_vqa(scenes: Sequence[TextScene], seed: int = 0) -> list[tuple[int, str, str, str]]:
    """Questions for every scene: ``(scene index, question, answer, type)``, deterministic from ``seed``."""
    if not scenes:
        raise ValueError("make_vqa needs at least one scene.")
    out: list[tuple[int, str, str, str]] = []
    for i, scene in enumerate(scenes):
        rng = np.random.default_rng([seed, i, 7])
        out.extend((i, q, a, t) for q, a, t in questions(scene, rng))
    return out


class Vocabulary:
    """Word <-> token id. Id 0 is ``<pad>``, 1 ``<bos>``, 2 ``<eos>``, 3 ``<unk>``; then ``words`` in order.

    Text is split on spaces (the generator writes lower-case words and a separate ``?``).
    """

    def __init__(self, words: Sequence[str] = WORDS) -> None:
        self.itos: list[str] = list(SPECIALS) + [w for w in dict.fromkeys(words) if w not in SPECIALS]
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    pad, bos, eos, unk = 0, 1, 2, 3

    def encode(self, text: str, length: int | None = None, bos: bool = False, eos: bool = False) -> list[int]:
        """Token ids of ``text`` (unknown words -> ``<unk>``), optionally framed and padded/cut to ``length``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a string; got {type(text).__name__}.")
        ids = [self.stoi.get(w, self.unk) for w in text.lower().split()]
        ids = ([self.bos] if bos else []) + ids + ([self.eos] if eos else [])
        if length is not None:
            ids = ids[:length] + [self.pad] * max(0, length - len(ids))
        return ids

    def encode_batch(self, texts: Sequence[str], bos: bool = False, eos: bool = False) -> torch.Tensor:
        """``(N, L)`` int64 ids, padded with 0 to the longest text."""
        if isinstance(texts, str) or not texts:
            raise ValueError("encode_batch needs a non-empty list of strings (for one text use [text]).")
        rows = [self.encode(t, bos=bos, eos=eos) for t in texts]
        length = max(len(r) for r in rows)
        return torch.tensor([r + [self.pad] * (length - len(r)) for r in rows], dtype=torch.long)

    def decode(self, ids: Iterable[int]) -> str:
        """Words of ``ids`` up to the first ``<eos>``, without ``<pad>``/``<bos>``."""
        words = []
        for i in ids:
            i = int(i)
            if i == self.eos:
                break
            if i in (self.pad, self.bos):
                continue
            words.append(self.itos[i] if 0 <= i < len(self.itos) else "<unk>")
        return " ".join(words)

    def unknown_words(self, text: str) -> list[str]:
        """The words of ``text`` the vocabulary does not know (for a clear message in a widget)."""
        return [w for w in text.lower().split() if w not in self.stoi]
