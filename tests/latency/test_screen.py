"""Screening predictions equal ``TablePredictor.predict_ms`` on many sampled architectures."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from mnas.errors import MissingLatencyKeyError
from mnas.latency import ScreeningPredictor, TablePredictor, load_table, resolve_target
from mnas.spaces import load_space

TABLES = Path(__file__).resolve().parents[2] / "latency_tables"
HOST = TABLES / "host-amd-epyc-onnxruntime-1t.json"  # the shipped host table (any CPU)
LITERT = TABLES / "host-amd-epyc-f25m1-litert-1t.json"  # calibrated with a weights threshold w0


@pytest.mark.parametrize(("space_name", "table"), [
    ("mobilenetv3", "pixel4"), ("mobilenetv3", str(HOST)), ("mnasnet", "pixel4"),
    ("mobilenetv2", "pixel4"), ("mobilenetv1", str(LITERT))])
def test_screen_equals_predict_ms(space_name: str, table: str) -> None:
    space = load_space(space_name)
    predictor = TablePredictor(resolve_target(table))
    screen = ScreeningPredictor(space, predictor)
    codes = screen.codec.random(np.random.default_rng(7), 150)
    fast = screen.predict_codes(codes)
    reference = np.array([predictor.predict_ms(space.replay(screen.codec.decode(row)))
                          for row in codes])
    assert np.all(np.isfinite(fast))
    np.testing.assert_allclose(fast, reference, rtol=1e-9, atol=0)
    assert len(set(np.round(reference, 6))) > 100  # the archs really differ in latency
    # the dict path (trial params) gives the same numbers
    pool = [screen.codec.decode(row) for row in codes[:20]]
    np.testing.assert_allclose(screen.predict_many(pool), reference[:20], rtol=1e-9, atol=0)
    assert screen.predict_params(pool[0]) == pytest.approx(reference[0], rel=1e-9)


def test_screen_equals_predict_ms_with_a_weights_threshold() -> None:
    """``c * max(0, weights - w0)`` is charged on a network's total weights: the screen keeps
    them apart and gives predict_ms's numbers on both sides of ``w0``."""
    space = load_space("mobilenetv3")
    table = load_table(HOST)
    assert table.calibration is not None
    predictor = TablePredictor(table.with_calibration(dataclasses.replace(
        table.calibration, c=0.4, w0=3.0)))
    screen = ScreeningPredictor(space, predictor)
    codes = screen.codec.random(np.random.default_rng(3), 120)
    archs = [space.replay(screen.codec.decode(row)) for row in codes]
    reference = np.array([predictor.predict_ms(arch) for arch in archs])
    np.testing.assert_allclose(screen.predict_codes(codes), reference, rtol=1e-9, atol=0)
    weights = [predictor.predict(arch).per_block for arch in archs]
    beyond = [sum(b.weights for b in blocks) > 3e6 for blocks in weights]
    assert 0 < sum(beyond) < len(beyond)  # both sides of w0 are covered
    shipped = load_table(LITERT).calibration  # the shipped LiteRT table has one (above)
    assert shipped is not None and shipped.w0 > 0 and shipped.c > 0


def test_screen_lacking_keys_is_nan_exactly_where_predict_ms_raises() -> None:
    # The host table without its 7x7 stride-2 keys (it has no device model for them).
    space = load_space("mobilenetv3")
    full = load_table(HOST)
    assert full.header.missing_keys != "device_model"
    predictor = TablePredictor(dataclasses.replace(full, entries={
        k: v for k, v in full.entries.items() if "-k7-s2-" not in k}))
    screen = ScreeningPredictor(space, predictor)
    codes = screen.codec.random(np.random.default_rng(0), 40)
    fast = screen.predict_codes(codes)
    missing = 0
    for row, value in zip(codes, fast, strict=True):
        try:
            expected = predictor.predict_ms(space.replay(screen.codec.decode(row)))
        except MissingLatencyKeyError:
            assert np.isnan(value)
            missing += 1
        else:
            assert value == pytest.approx(expected, rel=1e-9)
    assert 0 < missing < len(codes)


def test_screen_builds_tables_only_for_the_shapes_a_pool_uses() -> None:
    space = load_space("mobilenetv3")
    screen = ScreeningPredictor(space, TablePredictor(resolve_target("pixel4")))
    codes = screen.codec.random(np.random.default_rng(1), 10)
    codes[:, screen.codec.width_col] = 0
    codes[:, screen.codec.resolution_col] = 0
    screen.predict_codes(codes)
    assert screen.probes == 36  # one (width, resolution): 3 kernels x 3 expansions x 2 x 2


def test_screen_of_an_ops_space_predicts_each_network_once() -> None:
    """NAS-Bench-Macro (ops: choices) is memoised per network: equal to predict_ms, and rows
    that build the same network cost one prediction."""
    space = load_space("nas-bench-macro")
    predictor = TablePredictor(resolve_target("pixel4"), space_hint="nas-bench-macro")
    screen = ScreeningPredictor(space, predictor)
    codes = screen.codec.random(np.random.default_rng(1), 300)
    fast = screen.predict_codes(codes)
    reference = np.array([predictor.predict_ms(space.replay(screen.codec.decode(row)))
                          for row in codes])
    np.testing.assert_allclose(fast, reference, rtol=1e-12, atol=0)
    distinct = len({row.tobytes() for row in screen.codec.canonical(codes)})
    assert screen.probes == distinct < len(codes)
    again = screen.predict_codes(codes[::-1])
    np.testing.assert_array_equal(again, fast[::-1])
    assert screen.probes == distinct
