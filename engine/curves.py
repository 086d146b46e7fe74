"""Velocity curves: input velocity (1-127) -> output velocity (1-127).

With x = velocity / 127 and i the intensity (0..1), the shaped curves are:

- Exponential: y = x ** (1 + 3i)              (soft hits get softer)
- Logarithmic: y = 1 - (1 - x) ** (1 + 3i)    (soft hits get louder)
- SCurve:      y = (1 - i) * x + i * (3x² - 2x³)  (a blend toward smoothstep)

and the output is round(127 * y), never below 1 (a velocity of 0 would be a note-off).
Linear maps 1..127 onto min..max; Fixed always gives its velocity; PassThrough changes nothing.
At intensity 0 every shaped curve is the identity.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from midimon.config.models import FixedCurve, LinearCurve, PassThroughCurve, ShapedCurve, VelocityCurve

Curve = Callable[[int], int]


def _identity(v: int) -> int:
    return v


@functools.lru_cache(maxsize=256)
def build(model: VelocityCurve | None) -> Curve:
    """Compile a velocity-curve model into a function (a 128-entry lookup table)."""
    match model:
        case None | PassThroughCurve():
            return _identity
        case FixedCurve(velocity=fixed):
            return lambda _v: fixed
        case LinearCurve(min=lo, max=hi):
            table = [0] + [max(1, round(lo + (hi - lo) * (v - 1) / 126)) for v in range(1, 128)]
        case ShapedCurve():
            shape = _SHAPES[model.curve]
            i = model.intensity
            table = [0] + [max(1, min(127, round(127 * shape(v / 127, i)))) for v in range(1, 128)]
    return lambda v: table[v] if 0 <= v <= 127 else v


def _exponential(x: float, i: float) -> float:
    return x ** (1 + 3 * i)


def _logarithmic(x: float, i: float) -> float:
    return 1 - (1 - x) ** (1 + 3 * i)


def _scurve(x: float, i: float) -> float:
    return (1 - i) * x + i * (3 * x * x - 2 * x**3)


_SHAPES = {"Exponential": _exponential, "Logarithmic": _logarithmic, "SCurve": _scurve}
