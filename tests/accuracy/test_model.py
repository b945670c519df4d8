"""Fitting, storing and reading accuracy models, measured on real ImageNet labels."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mnas.accuracy import (
    ArchEncoding,
    LabelSet,
    SpaceEncoding,
    fit_accuracy_model,
    fit_regressor,
    kendall,
    load_accuracy_model,
    load_shipped_model,
    measure_quality,
)
from mnas.errors import MnasInputError
from mnas.models import get_arch
from mnas.proxies import arch_costs
from mnas.spaces import load_space


@pytest.fixture(scope="module")
def space_model(accel_small: LabelSet):
    return fit_accuracy_model(accel_small, encoding="space", space=load_space("accel-nasbench"),
                              family="ridge", name="t")


def test_space_encoding_is_the_spaces_own_parameters(accel_small: LabelSet) -> None:
    space = load_space("accel-nasbench")
    encoding = SpaceEncoding(space)
    arch = accel_small.items[0].arch
    vector = encoding.encode(arch)
    params = space.params_of(arch)
    assert params is not None and vector[:-2].sum() == len(params)
    assert vector[-2] == pytest.approx(np.log(arch_costs(arch).macs))
    with pytest.raises(MnasInputError, match="not in space 'accel-nasbench'"):
        encoding.encode(get_arch("mobilenet_v3_large"))


def test_arch_encoding_scores_any_space() -> None:
    encoding = ArchEncoding()
    for name in ("mobilenet_v1", "mobilenet_v3_small", "mnasnet_a1"):
        vector = encoding.encode(get_arch(name))
        assert vector.shape == (len(encoding.names),) and np.all(np.isfinite(vector))
    shares = encoding.encode(get_arch("mobilenet_v2"))[5:10]
    assert shares.sum() == pytest.approx(1.0)


def test_fitted_model_beats_params_and_macs_on_held_out_labels(
        accel_labels: LabelSet, space_model) -> None:
    held = [i for i in accel_labels.items[8::16]][:300]  # disjoint from accel_small ([::16])
    truth = [i.accuracy for i in held]
    macs = [arch_costs(i.arch).macs for i in held]
    mean, spread = space_model.predict_many([i.arch for i in held])
    quality = measure_quality(mean, truth, macs, method="held out")
    params_tau = kendall([arch_costs(i.arch).params for i in held], truth)
    assert quality.tau > params_tau + 0.1 and quality.tau > kendall(macs, truth) + 0.1
    assert quality.rmse < 2.0 and np.all(spread > 0)


def test_header_states_cross_validated_quality(space_model) -> None:
    header = space_model.header
    assert header["label_count"] == 302 and header["encoding"] == "space"
    assert header["space"] == "accel-nasbench" and header["family"] == "ridge"
    assert header["quality"]["method"] == "5-fold cross-validation"
    assert 0.6 < header["quality"]["tau"] <= 1.0 and header["quality"]["n_band"] > 10
    assert "Kendall tau" in space_model.describe()


def test_save_load_round_trip_is_exact_and_plain_json(space_model, tmp_path: Path,
                                                      accel_small: LabelSet) -> None:
    path = space_model.save(tmp_path / "m.json")
    data = json.loads(path.read_text())
    assert data["format"] == "mnas-accuracy/1"
    loaded = load_accuracy_model(path)
    arch = accel_small.items[3].arch
    assert loaded.predict(arch) == space_model.predict(arch)


def test_fit_is_deterministic(accel_small: LabelSet) -> None:
    small = replace(accel_small, items=accel_small.items[:60])
    encoding = ArchEncoding()
    x = np.stack([encoding.encode(i.arch) for i in small.items])
    y = np.asarray([i.accuracy for i in small.items])
    a = fit_regressor(x, y, family="mlp", members=2, epochs=100, seed=3)
    b = fit_regressor(x, y, family="mlp", members=2, epochs=100, seed=3)
    assert np.array_equal(a.predict(x)[0], b.predict(x)[0])
    assert not np.array_equal(a.predict(x)[0],
                              fit_regressor(x, y, family="mlp", members=2, epochs=100,
                                            seed=4).predict(x)[0])
    first = fit_accuracy_model(small, encoding="arch", family="ridge", seed=3)
    again = fit_accuracy_model(small, encoding="arch", family="ridge", seed=3)
    assert first.header["quality"] == again.header["quality"]


@pytest.mark.parametrize("edit, match", [
    (lambda d: d["model"]["members"][0][0].update(weight=[[float("nan")]]), "finite numbers"),
    (lambda d: d["model"]["members"][0][0].update(bias="x"), "must be"),
    (lambda d: d["model"].update(family="forest"), "family"),
    (lambda d: d["header"]["quality"].update(tau=5), "Kendall tau in"),
    (lambda d: d.update(format="pickle"), "not an accuracy model"),
    (lambda d: d["encoding"]["parameters"].pop("s1_kernel"), "changed since"),
    (lambda d: d["header"].pop("metric"), "header.metric"),
])
def test_hand_edited_nonsense_is_refused(space_model, tmp_path: Path, edit, match: str) -> None:
    data = space_model.to_dict()
    edit(data)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    with pytest.raises(MnasInputError, match=match) as info:
        load_accuracy_model(path)
    assert "\n" not in str(info.value)


def test_too_few_labels(accel_small: LabelSet) -> None:
    with pytest.raises(MnasInputError, match="too few to cross-validate"):
        fit_accuracy_model(replace(accel_small, items=accel_small.items[:9]), encoding="arch")


def test_shipped_imagenet_model_on_the_held_out_fifth(accel_labels: LabelSet) -> None:
    """The shipped model never saw record ids divisible by 5 (benchmarks/accuracy_models.py)."""
    model = load_shipped_model("accel-nasbench")
    held = [i for i in accel_labels.items
            if int(str(i.arch.extra["source"]["key"]).split("_")[1].split(".")[0]) % 5 == 0]
    mean, _ = model.predict_many([i.arch for i in held])
    quality = measure_quality(mean, [i.accuracy for i in held],
                              [arch_costs(i.arch).macs for i in held], method="held out")
    assert quality.n == 961 and quality.tau >= 0.85 and quality.tau_band >= 0.75


def test_an_arch_model_states_where_it_extrapolates() -> None:
    model = load_shipped_model("imagenet-arch")  # fitted on ReLU MnasNet-space networks
    outside = model.outside_domain(get_arch("mobilenet_v3_small"))
    assert any("hswish" in o for o in outside) and any("resolution" not in o for o in outside)
    assert any("block_types" in o and "dsa" in o
               for o in model.outside_domain(get_arch("mobilenet_v1")))
