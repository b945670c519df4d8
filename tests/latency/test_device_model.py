"""The phone device model and the shipped, estimated ``pixel4`` tables.

Expected numbers cite ``shared/reference/published.md`` by line (``published.md:N``) and,
through it, the original source.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

from mnas.errors import MnasInputError
from mnas.latency import TablePredictor, load_table, op_keys, predict
from mnas.latency._device_model import PhoneCpuModel, kernels, load_device_model
from mnas.models._registry import get_arch

REPO = Path(__file__).resolve().parents[2]
TABLES = REPO / "latency_tables"


def _load_benchmark(name: str) -> ModuleType:
    path = REPO / "benchmarks" / f"{name}.py"
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def one_core() -> TablePredictor:
    return TablePredictor(load_table(TABLES / "pixel4.json"))


@pytest.fixture(scope="module")
def four_big() -> TablePredictor:
    return TablePredictor(load_table(TABLES / "pixel4-4big.json"))


@pytest.fixture(scope="module")
def agreement() -> ModuleType:
    return _load_benchmark("pixel4_agreement")


# ------------------------------------------------------------------ the model itself
# MACs of the kernels the model costs, against published.md lines 9-16 (papers' tables):
# MobileNetV1 569M (Table 8), V2 300M (Table 4), V2 0.35 59M, V3-Large 217M (README) /
# 219M (paper), V3-Large minimalistic 209M, V3-Small 56M (paper), MnasNet-A1 312M, B1 315M.
@pytest.mark.parametrize(("name", "macs_m"), [
    ("mobilenet_v1", 569), ("mobilenet_v2", 300), ("mobilenet_v2_035", 59),
    ("mobilenet_v3_large", 217), ("mobilenet_v3_large_minimal", 209),
    ("mobilenet_v3_small", 56), ("mnasnet_a1", 312), ("mnasnet_b1", 315)])
def test_kernel_macs_match_published(name: str, macs_m: float) -> None:
    total = sum(op.macs for key in op_keys(get_arch(name)) for op in kernels(key))
    assert total / 1e6 == pytest.approx(macs_m, rel=0.015)


def test_kernels_of_an_se_hswish_block() -> None:
    key = op_keys(get_arch("mobilenet_v3_large"))[-4]  # a 7x7x160 block, mid 960, SE, h-swish
    kinds = [op.kind for op in kernels(key)]
    assert kinds[:4] == ["pw", "hswish", "dw", "hswish"] and kinds[-2:] == ["pw", "eltwise"]
    assert kinds.count("fc") == 2  # the SE reduce and expand


def test_latency_grows_with_width_and_kernel(one_core: TablePredictor) -> None:
    model = load_device_model(one_core.table.device_model or {})
    base = op_keys(get_arch("mobilenet_v2"))[5]
    wider = type(base)(**{**base.__dict__, "mid_channels": base.mid_channels * 2})
    bigger = type(base)(**{**base.__dict__, "kernel": 7})
    assert model.predict_ms(wider) > model.predict_ms(base)
    assert model.predict_ms(bigger) > model.predict_ms(base)


def test_device_model_round_trip_and_errors(one_core: TablePredictor) -> None:
    data = dict(one_core.table.device_model or {})
    model = load_device_model(data)
    assert isinstance(model, PhoneCpuModel) and load_device_model(model.to_dict()) == model
    with pytest.raises(MnasInputError, match="device_model.format"):
        load_device_model({**data, "format": "other/1"})
    with pytest.raises(MnasInputError, match="unknown field.*speed"):
        load_device_model({**data, "speed": 3})
    with pytest.raises(MnasInputError, match="gmacs.dw must be a positive number"):
        load_device_model({**data, "gmacs": {**data["gmacs"], "dw": -1}})
    with pytest.raises(MnasInputError, match="combine must be one of"):
        load_device_model({**data, "combine": "min"})


# ------------------------------------------------------------------ the fit (per block)
def test_fit_reproduces_note10_blocks(shared_dir: Path, one_core: TablePredictor) -> None:
    """Per-block error on the once-for-all Note10 table (shared/data/README.md: TFLite fp32,
    Snapdragon 855, expected 10-15% for a roofline-style model)."""
    fit = _load_benchmark("fit_pixel4")
    entries = fit.note10_entries(shared_dir / "data" / "ofa_note10_lut")
    assert len(entries) == 4 * 94
    model = load_device_model(one_core.table.device_model or {})
    errors = [abs(model.predict_ms(key) / ms - 1) for key, ms, _ in entries]
    mape = sum(errors) / len(errors)
    assert mape <= 0.05 and max(errors) <= 0.20
    assert mape == pytest.approx(model.fit["per_block_mape"], abs=0.002)  # what the table says


# ------------------------------------------------------------------ shipped tables
def test_tables_are_estimated_and_say_how_to_measure(one_core: TablePredictor,
                                                     four_big: TablePredictor) -> None:
    for predictor, threads, mask in ((one_core, 1, "80"), (four_big, 4, "f0")):
        header = predictor.table.header
        assert header.provenance == "estimated" and header.missing_keys == "device_model"
        assert header.threads == threads and header.cpu_mask == mask
        assert "mnas latency build --device adb:" in header.how_to_measure
        assert f"--cpu-mask {mask}" in header.how_to_measure
        assert 0 < header.error_band <= 0.25


def test_entries_are_the_model_values(one_core: TablePredictor) -> None:
    model = load_device_model(one_core.table.device_model or {})
    from mnas.latency import OpKey

    for text, entry in list(one_core.table.entries.items())[::40]:
        assert entry.n == 0  # never measured
        assert entry.median_ms == pytest.approx(model.predict_ms(OpKey.parse(text)), abs=1e-4)


def test_any_resolution_is_predicted_and_labelled_estimated() -> None:
    arch = get_arch("mobilenet_v3_large").replace(resolution=200)
    estimate = predict(arch, target="pixel4")
    assert estimate.provenance == "estimated" and estimate.band >= 0.1
    assert {b.source for b in estimate.per_block} >= {"device_model"}
    assert estimate.low_ms < estimate.latency_ms < estimate.high_ms
    at_224 = predict(get_arch("mobilenet_v3_large"), target="pixel4").latency_ms
    assert 0.6 * at_224 < estimate.latency_ms < at_224


# ------------------------------------------------------------------ agreement, one core
def test_zoo_ordering_on_pixel4(one_core: TablePredictor) -> None:
    """published.md:34-42: on every Pixel, V3-Small < V3-Large 0.75 < V3-Large < V2 <
    MnasNet-A1 (Pixel 3: 14.4 < 34 < 44 < 56 < 61 ms)."""
    names = ["mobilenet_v3_small", "mobilenet_v3_large_075", "mobilenet_v3_large",
             "mobilenet_v2", "mnasnet_a1"]
    ms = [one_core.predict(get_arch(n)).latency_ms for n in names]
    assert ms == sorted(ms), dict(zip(names, ms, strict=True))


def test_single_core_within_band_of_pixel3_scaled(one_core: TablePredictor,
                                                  agreement: ModuleType) -> None:
    """published.md:34-42 (TF-slim MobileNet README, MnasNet README; Pixel 3, one large core,
    TFLite fp32). The model implies one Pixel 3 -> Pixel 4 speed-up; it must lie within the
    hardware bounds 1.50-2.27 (TFLite benchmarks.md Pixel 3/4 ratios; the A76's doubled
    128-bit NEON width x 2.84/2.5 GHz; see benchmarks/pixel4_agreement.py), and every
    network must sit within the table's declared band of Pixel 3 / speed-up."""
    predicted = {f.arch: one_core.predict(get_arch(f.arch)).latency_ms
                 for f in agreement.SINGLE_CORE}
    ratio = agreement.implied_ratio(predicted)
    low, high = agreement.PIXEL3_TO_PIXEL4
    assert low <= ratio <= high
    band = one_core.table.header.error_band
    for figure in agreement.SINGLE_CORE:
        implied = figure.pixel3 / ratio
        assert abs(predicted[figure.arch] / implied - 1) <= band, (figure.arch, figure.line)


def test_single_core_consistent_with_pixel1_and_pixel2(one_core: TablePredictor,
                                                       agreement: ModuleType) -> None:
    """published.md:34-42: the same networks on Pixel 1 (Snapdragon 821) and Pixel 2
    (Snapdragon 835). Each phone's ratio to our Pixel 4 prediction must be nearly the same
    for every network (one speed-up per phone), within the declared band of its median."""
    for phone in ("pixel1", "pixel2"):
        ratios = [getattr(f, phone) / one_core.predict(get_arch(f.arch)).latency_ms
                  for f in agreement.SINGLE_CORE if getattr(f, phone)]
        median = sorted(ratios)[len(ratios) // 2]
        band = one_core.table.header.error_band
        assert all(abs(r / median - 1) <= band + 0.05 for r in ratios), (phone, ratios)
        assert median > 1.5  # older phones are slower than a Pixel 4


# ------------------------------------------------------------------ agreement, four cores
@pytest.mark.parametrize(("name", "published_ms"), [
    ("mobilenet_v1", 14.0),        # published.md:50, TFLite performance/benchmarks.md
    ("efficientnet_lite0", 12.0),  # published.md:51, tensorflow/tpu efficientnet/lite README
])
def test_four_core_anchors_within_25pct(four_big: TablePredictor, name: str,
                                        published_ms: float) -> None:
    predicted = four_big.predict(get_arch(name)).latency_ms
    assert abs(predicted / published_ms - 1) <= 0.25


@pytest.mark.parametrize(("variant", "published_ms"), [(1, 18), (2, 26), (3, 41), (4, 76)])
def test_four_core_efficientnet_lite_held_out(four_big: TablePredictor, agreement: ModuleType,
                                              variant: int, published_ms: float) -> None:
    """published.md:52 (EfficientNet-Lite README, Pixel 4 CPU 4 threads); not used in the fit."""
    predicted = four_big.predict(agreement.efficientnet_lite(variant)).latency_ms
    assert abs(predicted / published_ms - 1) <= four_big.table.header.error_band


def test_lite_builder_matches_zoo_and_readme_params(agreement: ModuleType) -> None:
    """EfficientNet-Lite README: 4.7M / 5.4M / 6.1M / 8.2M / 13.0M parameters."""
    from mnas.models import build

    assert agreement.efficientnet_lite(0).canonical_key() == get_arch(
        "efficientnet_lite0").canonical_key()
    for variant, millions in ((1, 5.4), (2, 6.1), (3, 8.2), (4, 13.0)):
        params = sum(p.numel() for p in build(agreement.efficientnet_lite(variant)).parameters())
        assert math.isclose(params / 1e6, millions, abs_tol=0.05)
