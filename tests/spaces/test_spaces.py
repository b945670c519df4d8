"""Search spaces: YAML loading and validation, define-by-run sampling, replay, membership."""

from __future__ import annotations

import random
from pathlib import Path

import optuna
import pytest

from mnas.errors import MnasInputError
from mnas.models import build, get_arch
from mnas.spaces import list_spaces, load_space

SHIPPED = ["mnasnet", "mobilenetv1", "mobilenetv2", "mobilenetv3", "ofa-mbv3"]


def test_shipped_spaces_are_listed():
    assert set(SHIPPED) <= set(list_spaces())


@pytest.mark.parametrize("name", SHIPPED)
def test_optuna_sample_then_fixed_trial_replays_the_same_arch(name):
    space = load_space(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    archs = []

    def objective(trial: optuna.Trial) -> float:
        arch = space.sample(trial)
        archs.append(arch)
        return float(arch.resolution)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=5)
    for trial, arch in zip(study.trials, archs, strict=True):
        again = space.sample(optuna.trial.FixedTrial(trial.params))
        assert again.canonical_key() == arch.canonical_key()
        assert space.replay(trial.params).canonical_key() == arch.canonical_key()
        assert set(trial.params) <= set(space.parameter_names())


@pytest.mark.parametrize("name", SHIPPED)
def test_random_archs_build_and_run(name):
    import torch

    space = load_space(name)
    arch = space.random_arch(random.Random(1))
    model = build(arch.replace(resolution=64)).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, arch.num_classes)


def test_random_arch_is_seeded():
    space = load_space("mobilenetv3")
    a = space.random_arch(random.Random(7))
    b = space.random_arch(random.Random(7))
    assert a.canonical_key() == b.canonical_key()
    assert a.canonical_key() != space.random_arch(random.Random(8)).canonical_key()


def test_parameter_names_are_flat_and_stable():
    names = load_space("mobilenetv3").parameter_names()
    assert names[:4] == ["width", "resolution", "s1_depth", "s1_b1_kernel"]
    assert "s5_b4_act" in names
    assert load_space("mnasnet").parameter_names()[:3] == ["s1_channels", "s1_depth",
                                                          "s1_kernel"]


# Which reference architectures each space contains (and which it must not).
MEMBERS = [
    ("mobilenetv2", "mobilenet_v2", True), ("mobilenetv2", "mobilenet_v2_050", True),
    ("mobilenetv2", "mobilenet_v2_075", True), ("mnasnet", "mnasnet_a1", True),
    ("mnasnet", "mnasnet_b1", True),
    # the zoo's MobileNetV1 is TF-slim's (ReLU6); the space is the paper's (ReLU), below
    ("mobilenetv1", "mobilenet_v1", False),
    # MobileNetV3-Large's 80-wide stage expands by 2.5 and 2.3, outside {3, 4, 6}.
    ("mobilenetv3", "mobilenet_v3_large", False),
]


@pytest.mark.parametrize("space_name,arch_name,member", MEMBERS)
def test_reference_architectures_expressible_in_their_space(space_name, arch_name, member):
    space = load_space(space_name)
    arch = get_arch(arch_name)
    params = space.params_of(arch)
    assert (params is not None) is member
    if member:
        replayed = space.sample(optuna.trial.FixedTrial(params))
        assert replayed.structure_key() == arch.structure_key()


def test_the_papers_mobilenet_v1_at_every_width_and_resolution_is_in_the_v1_space():
    from mnas.models.zoo import mobilenet_v1

    space = load_space("mobilenetv1")
    for width in (1.0, 0.75, 0.5, 0.25):
        for resolution in (128, 160, 192, 224):
            arch = mobilenet_v1(width, resolution, act="relu")
            params = space.params_of(arch)
            assert params is not None
            assert space.replay(params).structure_key() == arch.structure_key()


def test_space_size():
    space = load_space("mobilenetv1")
    assert space.size() == 4 * 4 * 1 * 2 * 2 * 5 * 2


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


GOOD = """name: t
resolution: [64]
stem: {channels: 16}
stages:
  - {channels: 24, stride: 2, depth: [1, 2], kernel: [3, 5], expansion: [3, 6]}
"""


def test_custom_space_file(tmp_path: Path):
    space = load_space(_write(tmp_path, GOOD))
    assert space.size() == 4 + 4 ** 2  # 2 kernels x 2 expansions per block, depth 1 or 2


@pytest.mark.parametrize("text,fragment", [
    (GOOD.replace("kernel: [3, 5]", "kernel: [3, 4]"), "line 5: field 'stages[0].kernel[1]' "
                                                         "must be an odd integer, got 4"),
    (GOOD.replace("channels: 24", "channels: -24"), "field 'stages[0].channels[0]'"),
    (GOOD.replace("stem:", "stemm:"), "field 'stemm'"),
    (GOOD + "  - {channels: 32, act: [gelu]}\n", "field 'stages[1].act[0]' must be one of"),
    ("name: t\nresolution: [64\n", "malformed YAML"),
    ("!!python/object/apply:os.system ['echo hacked']\n", "malformed YAML"),
    (GOOD.replace("name: t", "name: !!python/name:os.system"), "malformed YAML"),
])
def test_bad_space_files_name_field_and_line(tmp_path: Path, text, fragment):
    with pytest.raises(MnasInputError) as info:
        load_space(_write(tmp_path, text))
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_space_name():
    with pytest.raises(MnasInputError, match="unknown search space 'nope'; use one of"):
        load_space("nope")


def test_replay_rejects_values_outside_the_choices():
    with pytest.raises(MnasInputError, match="parameter 'width' .* allowed"):
        load_space("mobilenetv3").replay({"width": 3.0})


def test_one_default_space_for_the_search_and_the_cli() -> None:
    from mnas.cli import build_parser
    from mnas.search._config import SearchConfig
    from mnas.spaces import DEFAULT_SPACE

    assert DEFAULT_SPACE in list_spaces() and load_space(DEFAULT_SPACE).size() > 1
    assert SearchConfig(target="pixel4", budget_ms=20.0).space == DEFAULT_SPACE
    parser = build_parser()
    search = parser.parse_args(["search", "--target", "pixel4", "--budget", "20ms"])
    validate = parser.parse_args(["latency", "validate", "--target", "host"])
    assert search.space == DEFAULT_SPACE and validate.space == DEFAULT_SPACE
