"""``mnas accuracy fit|show`` and ``mnas score --proxy MODEL|labels:SRC`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnas.cli import main


@pytest.fixture
def labels_dir(accel_folder: Path) -> Path:
    """40 labelled Accel-NASBench arch files (the shared ``accel_folder`` fixture)."""
    return accel_folder


def test_fit_show_score(labels_dir: Path, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.json"
    assert main(["accuracy", "fit", "--labels", str(labels_dir), "--space", "accel-nasbench",
                 "--family", "ridge", "-o", str(model)]) == 0
    out = capsys.readouterr()
    assert "Kendall tau" in out.out and "candidate ridge" in out.err
    assert main(["accuracy", "show", str(model)]) == 0
    shown = capsys.readouterr().out
    assert "label_count   40" in shown and "encoding      space" in shown

    arch = sorted(labels_dir.glob("*.json"))[0]
    assert main(["score", "--arch", str(arch), "--proxy", str(model), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    truth = json.loads(arch.read_text())["truth"]["accuracy"]
    assert row["estimator"] == "m" and "5-fold cross-validation" in row["quality"]
    assert abs(row["score"] - truth) < 3.0

    assert main(["score", "--arch", str(arch), "--proxy", f"labels:{labels_dir}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["score"] == truth


def test_shipped_models_are_listed_and_shown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["accuracy", "show", "imagenet-arch", "--json"]) == 0  # the former default
    header = json.loads(capsys.readouterr().out)
    assert header["encoding"] == "arch" and header["space"] is None
    assert header["label_count"] == 3864 and header["quality"]["n"] == 3864


@pytest.mark.parametrize("args, match", [
    (["--labels", "/no/such/labels"], "no such labels folder"),
    (["--labels", "{empty}"], "no arch files"),
    (["--labels", "{labels}", "--space", "mobilenetv3"], "is not in space 'mobilenetv3'"),
])
def test_bad_fits_exit_2_with_one_line(labels_dir: Path, tmp_path: Path, args: list[str],
                                       match: str, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    args = [a.format(empty=tmp_path / "empty", labels=labels_dir) for a in args]
    assert main(["accuracy", "fit", *args, "-o", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1
    assert not (tmp_path / "m.json").exists()


def test_unlabelled_arch_is_one_line(labels_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", "--arch", "mobilenet_v2", "--proxy", f"labels:{labels_dir}"]) == 2
    err = capsys.readouterr().err
    assert "is not labelled" in err and err.count("\n") == 1


def _zoo_csv(path: Path, recipe: str, shift: float) -> Path:
    """Zoo names with their published top-1 shifted by ``shift`` (synthetic labels)."""
    from mnas.models.published import PUBLISHED_TOP1

    rows = [f"{name},{top1 + shift:.2f},{recipe}" for name, (top1, _) in PUBLISHED_TOP1.items()]
    path.write_text("arch,accuracy,recipe\n" + "\n".join(rows) + "\n")
    return path


def test_fit_several_sources_with_recipes(labels_dir: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    zoo = _zoo_csv(tmp_path / "zoo.csv", "mine", 1.0)
    model = tmp_path / "multi.json"
    assert main(["accuracy", "fit", "--labels", str(labels_dir), "--labels", str(zoo),
                 "--reference-recipe", "mine", "-o", str(model)]) == 0
    out = capsys.readouterr()
    assert "under recipe mine" in out.out and "left out mine" in out.err
    assert main(["accuracy", "show", str(model)]) == 0
    shown = capsys.readouterr().out
    assert "encoding      stages" in shown and "recipe mine: 21 labels" in shown
    assert "SE at /16-/32" in shown and "contrasts" in shown
    assert main(["score", "--arch", "mobilenet_v2", "--proxy", str(model), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["recipe"] == "mine" and row["error"] > 0


@pytest.mark.parametrize("body, match", [
    ("arch,accuracy,recipe\nmobilenet_v2,70,a\nmobilenet_v1,NaN,a\n", "finite number"),
    ("arch,accuracy,recipe\nmobilenet_v2,70,a\nmobilenet_v1,71,\n", "filled on some rows"),
    ("arch,accuracy,recipe\nmobilenet_v2,70,a\nnot_there.json,71,a\n", "neither a zoo name"),
    ("arch,accuracy,recipe\nmobilenet_v2,70,a\nmobilenet_v2,71,a\n", "within recipe 'a'"),
])
def test_bad_labels_of_a_multi_source_fit(labels_dir: Path, tmp_path: Path, body: str,
                                          match: str, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.csv").write_text(body)
    out = tmp_path / "m.json"
    assert main(["accuracy", "fit", "--labels", str(labels_dir), "--labels",
                 str(tmp_path / "bad.csv"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_the_default_model_states_its_evidence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["accuracy", "show", "imagenet", "--json"]) == 0
    header = json.loads(capsys.readouterr().out)
    assert header["encoding"] == "stages" and header["reference_recipe"] == "tfslim_v2"
    summary = {row["choice"]: row for row in header["evidence_summary"]}
    # MobileNetV3's placement emerges from the labels: SE and h-swish pay in the deep half
    late, early = summary["swish-type activation at /16-/32"], summary[
        "swish-type activation at /2-/8"]
    assert late["contrasts"] > 0 and late["effect"] > early["effect"]
    assert summary["SE at /16-/32"]["effect"] > summary["SE at /2-/8"]["effect"] > 0
    assert summary["MobileNetV1-type blocks"]["contrasts"] == 0
    assert set(header["sources"]) == {"accel-nasbench", "timm", "tfslim", "ofa"}


def test_an_unknown_reference_recipe_is_one_line(labels_dir: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    zoo = _zoo_csv(tmp_path / "zoo.csv", "mine", 0.0)
    out = tmp_path / "m.json"
    assert main(["accuracy", "fit", "--labels", str(labels_dir), "--labels", str(zoo),
                 "--reference-recipe", "nope", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "reference recipe 'nope' has no labels" in err and "mine" in err
    assert err.count("\n") == 1 and not out.exists()
