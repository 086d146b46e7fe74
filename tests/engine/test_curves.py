import pytest

from midimon.config.models import FixedCurve, LinearCurve, PassThroughCurve, ShapedCurve
from midimon.engine.curves import build


def test_passthrough_and_none_are_identity():
    for model in (None, PassThroughCurve(type="PassThrough")):
        f = build(model)
        assert [f(v) for v in (1, 64, 127)] == [1, 64, 127]


def test_fixed():
    f = build(FixedCurve(type="Fixed", velocity=90))
    assert {f(v) for v in range(1, 128)} == {90}


def test_linear_maps_ends_to_min_and_max():
    f = build(LinearCurve(type="Linear", min=40, max=100))
    assert (f(1), f(127)) == (40, 100)
    assert all(f(a) <= f(a + 1) for a in range(1, 127))


@pytest.mark.parametrize("shape", ["Exponential", "Logarithmic", "SCurve"])
def test_shaped_curves_zero_intensity_is_identity_and_all_are_monotonic(shape):
    ident = build(ShapedCurve(type="Curve", curve=shape, intensity=0))
    assert all(ident(v) == v for v in range(1, 128))
    f = build(ShapedCurve(type="Curve", curve=shape, intensity=1))
    outs = [f(v) for v in range(1, 128)]
    assert outs == sorted(outs) and min(outs) >= 1 and max(outs) == 127


def test_exponential_softens_and_logarithmic_boosts_the_middle():
    exp = build(ShapedCurve(type="Curve", curve="Exponential", intensity=0.5))
    log = build(ShapedCurve(type="Curve", curve="Logarithmic", intensity=0.5))
    # x = 64/127, exponent 2.5: 127 * x**2.5 = 22.9
    assert exp(64) == 23
    # 127 * (1 - (1 - x)**2.5) = 104.6
    assert log(64) == 105
    s = build(ShapedCurve(type="Curve", curve="SCurve", intensity=1))
    assert s(20) < 20 and s(107) > 107
