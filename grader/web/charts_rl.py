"""The rl kind's chart: the return of each evaluation episode grader played, as inline SVG.

The returns are grader's own (computed on the trusted side), but they are read
as defensively as every chart: a bounded count of finite numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from grader.web.charts import FG, INK, WIDTH, _axis, _fmt, _line, _number, _rect, _shade, _svg, _text

MAX_EPISODES = 1000
LEFT, RIGHT, TOP, HEIGHT = 56, WIDTH - 16, 12, 180
MARK_STYLES = {"solved": ' stroke-width="1.5"', "random policy": ' stroke-width="1.5" stroke-dasharray="5 3"'}


def episode_returns(
    returns: Sequence[float], threshold: float | None = None, random_mean: float | None = None
) -> Markup:
    """One bar per episode, with the solved threshold and a random policy's mean return as lines."""
    if not isinstance(returns, Sequence) or isinstance(returns, str) or not 0 < len(returns) <= MAX_EPISODES:
        return Markup("")
    values = [_number(value) for value in returns]
    if any(value is None for value in values):
        return Markup("")
    marks = {name: _number(value) for name, value in (("solved", threshold), ("random policy", random_mean))}
    marks = {name: value for name, value in marks.items() if value is not None}
    everything = [0.0, *values, *marks.values()]
    low, high, ticks = _axis(min(everything), max(everything))
    bottom = TOP + HEIGHT

    def y(value: float) -> float:
        return bottom - (value - low) / ((high - low) or 1) * HEIGHT

    body = []
    for tick in ticks:
        body += [_line(LEFT, y(tick), RIGHT, y(tick)), _text(LEFT - 6, y(tick) + 4, _fmt(tick), "end")]
    step = (RIGHT - LEFT) / len(values)
    body.append('<g class="bars">')
    for index, value in enumerate(values):
        top, base = sorted((y(value), y(max(low, 0.0))))
        tip = f"episode {index + 1}: return {_fmt(value)}"
        body.append(
            _rect(LEFT + index * step + step * 0.1, top, step * 0.8, max(base - top, 0.5), _shade(0.8), "", tip)
        )
    body.append("</g>")
    for name, value in marks.items():
        line = _line(LEFT, y(value), RIGHT, y(value), FG, MARK_STYLES[name])
        body += [line, _text(RIGHT, y(value) - 4, name, "end", INK)]
    body += [_text((LEFT + RIGHT) / 2, bottom + 18, f"evaluation episode (1 to {len(values)})", extra=INK)]
    label = f"Return of each of {len(values)} evaluation episodes" + "".join(
        f"; {name} at {_fmt(value)}" for name, value in marks.items()
    )
    return _svg(bottom + 26, label, body)
