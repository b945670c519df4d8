"""The anchored multi-recipe model: recovery of known effects, bounds, evidence, files."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mnas.accuracy import LabelledArch, LabelSet, fit_accuracy_model, load_accuracy_model
from mnas.accuracy._anchored import fit_anchored
from mnas.accuracy._multisource import fit_stage_model, pooled_within_tau
from mnas.accuracy._stages import StageEncoding
from mnas.errors import MnasInputError
from mnas.spaces import load_space

ENC = StageEncoding()
TRUE_OFFSETS = {"a1": 70.0, "a2": 72.5, "b1": 60.0}


def _archs(n: int, seed: int) -> list:
    space = load_space("mobilenetv3")
    rng = random.Random(seed)
    return [space.random_arch(rng) for _ in range(n)]


def _truth(x: np.ndarray) -> np.ndarray:
    """A known architecture effect: 3 points per log-MAC, +1 for SE at /16, -0.5 for
    swish at /4."""
    col = ENC.names.index
    return 3.0 * x[:, col("log_macs")] + 1.0 * x[:, col("se@/16")] - 0.5 * x[:, col(
        "swish@/4")]


@pytest.fixture(scope="module")
def synthetic() -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    archs = _archs(240, 0)
    x = ENC.encode_many(archs)
    recipes = ["a1"] * 80 + ["a2"] * 80 + ["b1"] * 80
    sources = ["a"] * 160 + ["b"] * 80
    y = _truth(x) + np.asarray([TRUE_OFFSETS[r] for r in recipes])
    y += np.random.default_rng(0).normal(0, 0.05, len(y))
    return x, y, recipes, sources


def test_recovers_recipe_offsets_and_known_effects(synthetic) -> None:
    x, y, recipes, sources = synthetic
    model = fit_anchored(x, y, recipes=recipes, sources=sources, n_anchor=ENC.n_anchor,
                         reference="a1", tau_correction=3.0, tau_recipe=3.0)
    offset_gap = model.offsets["a2"] - model.offsets["a1"]
    assert offset_gap == pytest.approx(2.5, abs=0.05)
    # the recipes of one source are shrunk towards each other by their prior
    tight = fit_anchored(x, y, recipes=recipes, sources=sources, n_anchor=ENC.n_anchor,
                         reference="a1", tau_correction=3.0, tau_recipe=0.3)
    assert tight.offsets["a2"] - tight.offsets["a1"] < offset_gap
    se16 = model.weights[ENC.names.index("se@/16")]
    swish4 = model.weights[ENC.names.index("swish@/4")]
    assert se16 == pytest.approx(1.0, abs=0.15) and swish4 == pytest.approx(-0.5, abs=0.15)
    mean, spread = model.predict(x[:80])
    assert np.abs(mean - y[:80]).max() < 0.5 and np.all(spread > 0)
    # another recipe answers on its own offset
    assert model.predict_recipe(x[:3], "a2") == pytest.approx(mean[:3] + offset_gap)


def test_anchor_slopes_are_never_negative_and_corrections_bounded(synthetic) -> None:
    x, _, recipes, sources = synthetic
    col = ENC.names.index
    wrong = 70.0 - 2.0 * x[:, col("log_macs")] + 5.0 * x[:, col("se@/16")]
    model = fit_anchored(x, wrong, recipes=recipes, sources=sources, n_anchor=ENC.n_anchor,
                         reference="a1", bound=1.5, tau_correction=10.0)
    assert np.all(model.weights[:ENC.n_anchor] >= 0)  # bigger never scores lower
    assert np.all(np.abs(model.weights[ENC.n_anchor:]) <= 1.5 + 1e-9)


def test_a_choice_no_label_varies_gets_no_effect_and_a_wide_spread(synthetic) -> None:
    x, y, recipes, sources = synthetic
    model = fit_anchored(x, y, recipes=recipes, sources=sources, n_anchor=ENC.n_anchor,
                         reference="a1", tau_correction=1.0)
    dsa = ENC.names.index("dsa_share")
    assert np.ptp(x[:, dsa]) == 0 and model.weights[dsa] == pytest.approx(0.0, abs=1e-9)
    probe = x[:1].copy()
    base_spread = model.predict(probe)[1][0]
    probe[0, dsa] = 1.0
    assert model.predict(probe)[1][0] > base_spread + 0.5  # prior sd 1 point


def test_a_large_source_gets_its_own_scale() -> None:
    archs = _archs(260, 1)
    x = ENC.encode_many(archs)
    recipes = ["full"] * 60 + ["short"] * 200
    sources = ["small"] * 60 + ["big"] * 200
    shared = _truth(x)
    y = np.where(np.arange(260) < 60, 20 + shared, -10 + 0.5 * shared)
    model = fit_anchored(x, y, recipes=recipes, sources=sources, n_anchor=ENC.n_anchor,
                         reference="full", tau_correction=3.0)
    assert model.scales["small"] == 1.0 and model.scales["big"] == pytest.approx(0.5, abs=0.05)


def test_refusals() -> None:
    x = ENC.encode_many(_archs(4, 2))
    with pytest.raises(MnasInputError, match="recipe 'r' appears in two label sources"):
        fit_anchored(x, np.ones(4), recipes=["r"] * 4, sources=["s", "s", "t", "t"],
                     n_anchor=ENC.n_anchor, reference="r")
    with pytest.raises(MnasInputError, match="reference recipe 'q' has no labels"):
        fit_anchored(x, np.ones(4), recipes=["r"] * 4, sources=["s"] * 4,
                     n_anchor=ENC.n_anchor, reference="q")


def test_pooled_within_tau_counts_pairs_of_one_group_only() -> None:
    groups = [(np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])),
              (np.array([2.0, 1.0]), np.array([5.0, 6.0]))]
    assert pooled_within_tau(groups) == pytest.approx((3 * 1.0 + 1 * -1.0) / 4)
    assert pooled_within_tau([(np.array([1.0, 2.0]), np.array([3.0, 3.0]))]) is None


def _labels(seed: int = 3) -> LabelSet:
    archs = _archs(60, seed)
    x = ENC.encode_many(archs)
    y = _truth(x)
    items = [LabelledArch(arch=a, accuracy=float(v) + (70.0 if i < 30 else 60.0),
                          origin=f"#{i}", recipe="full" if i < 30 else "other",
                          source="one" if i < 30 else "two")
             for i, (a, v) in enumerate(zip(archs, y, strict=True))]
    return LabelSet(items=tuple(items), source="synthetic", kind="several",
                    description="synthetic top-1")


@pytest.fixture(scope="module")
def stage_model():
    return fit_stage_model(_labels(), reference="full", name="syn")


def test_stage_model_measures_itself_by_leaving_recipes_out(stage_model) -> None:
    header = stage_model.header
    assert header["reference_recipe"] == "full" and header["family"] == "anchored"
    assert set(header["cross_validation"]) == {"full", "other"}
    assert header["cross_validation"]["full"]["tau"] > 0.9  # learned from "other" alone
    assert header["quality"]["method"] == "leave-one-recipe-out, within recipe"
    summary = {row["choice"]: row for row in header["evidence_summary"]}
    assert summary["SE at /16-/32"]["contrasts"] > 0
    assert summary["MobileNetV1-type blocks"]["contrasts"] == 0
    assert "within-recipe Kendall tau" in stage_model.describe()


def test_stage_model_file_round_trip(stage_model, tmp_path: Path) -> None:
    path = stage_model.save(tmp_path / "m.json")
    again = load_accuracy_model(path)
    arch = _archs(1, 9)[0]
    assert again.predict(arch) == stage_model.predict(arch)
    assert again.recipe == "full" and again.measured_error(arch) is not None


@pytest.mark.parametrize("edit, match", [
    (lambda d: d["model"]["weights"].__setitem__(0, -1.0), "anchor must be non-negative"),
    (lambda d: d["model"].__setitem__("reference", "nope"), "model.reference"),
    (lambda d: d["model"]["covariance"][0].__setitem__(0, -5.0), "covariance matrix"),
    (lambda d: d["model"]["scales"].__setitem__("one", 0.0), "scales' must be positive"),
    (lambda d: d["model"]["offsets"].__setitem__("full", "x"), "must be numbers"),
    (lambda d: d["encoding"]["features"].pop(), "stage-encoding features differ"),
])
def test_a_tampered_file_is_one_line_error(stage_model, tmp_path: Path, edit,
                                           match: str) -> None:
    data = json.loads(json.dumps(stage_model.to_dict()))
    edit(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(MnasInputError, match=match) as info:
        load_accuracy_model(path)
    assert "\n" not in str(info.value) and "bad.json" in str(info.value)


def test_fit_accuracy_model_dispatches_stages() -> None:
    labels = _labels(4)
    model = fit_accuracy_model(labels, encoding="stages")
    assert model.header["encoding"] == "stages" and model.recipe == "full"  # the larger
    with pytest.raises(MnasInputError, match="fits the anchored family only"):
        fit_accuracy_model(labels, encoding="stages", family="ridge")
    with pytest.raises(MnasInputError, match="reference-recipe applies to the stages"):
        fit_accuracy_model(replace(labels, items=labels.items[:30]), encoding="arch",
                           reference="full")
