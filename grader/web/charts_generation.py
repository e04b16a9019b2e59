"""The generation kind's feedback: a grid of the student's samples, drawn from what the trusted side validated.

Each sample is a tiny grey PNG (its own pixels, no scaling: the browser enlarges
it with crisp edges) in a data URI, so nothing is fetched and nothing the run
wrote is served. The grid's numbers come from the stored metrics, which grader
computed; they are read defensively all the same (bounded sizes, 0-255 ints).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from markupsafe import Markup, escape
from PIL import Image

from grader.core.kinds.generation import verdict

MAX_SIDE, MAX_ROWS, MAX_COLUMNS = 64, 100, 16  # pixels per image side; labels; samples per label
SCALE = 4  # screen pixels per image pixel


def png(pixels: Sequence[Sequence[int]]) -> bytes:
    """An 8-bit greyscale PNG of rows of 0-255 values (255 = ink, drawn dark on white as on paper)."""
    ink = np.asarray(pixels, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(255 - ink, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def _image(value: object) -> list[list[int]] | None:
    """A stored image as rows of 0-255 ints, or None when it is not one."""
    if not isinstance(value, list) or not 0 < len(value) <= MAX_SIDE:
        return None
    rows = []
    for row in value:
        if not isinstance(row, list) or len(row) != len(value[0]) or not 0 < len(row) <= MAX_SIDE:
            return None
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in row):
            return None
        rows.append(row)
    return rows


def _cell(image: list[list[int]], label: int, read: object, copied: bool) -> str:
    """One sample: its picture, and under it what the judge read (in bold when not the label, or a copy)."""
    uri = "data:image/png;base64," + base64.b64encode(png(image)).decode("ascii")
    if copied:
        caption, note = "copy", "a near-copy of a training image"
    else:
        caption = str(read) if isinstance(read, int) else "?"
        note = f"read as {caption}"
    shown = escape(caption) if read == label and not copied else Markup(f"<strong>{escape(caption)}</strong>")
    height, width = len(image) * SCALE, len(image[0]) * SCALE
    return (
        f'<td><img src="{uri}" width="{width}" height="{height}" alt="label {escape(str(label))}, {escape(note)}" '
        f'style="image-rendering: pixelated"><br><small>{shown}</small></td>'
    )


def sample_grid(grid: object, per_label: object) -> Markup:
    """A table: one row per label asked for, its first samples, and the judge's verdict on all its samples."""
    if not isinstance(grid, Mapping):
        return Markup("")
    labels, images = grid.get("labels"), grid.get("images")
    judged, copies = grid.get("judged") or [], grid.get("copies") or []
    if not isinstance(labels, list) or not isinstance(images, list) or len(labels) != len(images):
        return Markup("")
    verdicts = {entry.get("label"): entry for entry in per_label or [] if isinstance(entry, Mapping)}
    rows = []
    for index, label in enumerate(labels[:MAX_ROWS]):
        cells = []
        for column, value in enumerate(images[index][:MAX_COLUMNS] if isinstance(images[index], list) else []):
            image = _image(value)
            if image is not None:
                cells.append(_cell(image, label, _at(judged, index, column), _at(copies, index, column) is True))
        entry = verdicts.get(label)
        text = verdict(entry) if _complete(entry) else ""
        rows.append(f'<tr><th scope="row">{escape(str(label))}</th>{"".join(cells)}<td>{escape(text)}</td></tr>')
    columns = min(MAX_COLUMNS, max((len(row) for row in images if isinstance(row, list)), default=0))
    return Markup(
        '<table class="samples"><thead><tr><th scope="col">Label</th>'
        f'<th scope="col" colspan="{columns}">Your samples</th>'
        '<th scope="col">What the judge read</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>"
    )


def _at(table: Any, row: int, column: int) -> Any:
    try:
        return table[row][column]
    except (IndexError, KeyError, TypeError):
        return None


def _complete(entry: object) -> bool:
    """Whether a stored verdict has the numbers a sentence needs."""
    keys = ("label", "samples", "agreeing", "read_as_count", "copies")
    return isinstance(entry, Mapping) and all(isinstance(entry.get(key), int) for key in keys)
