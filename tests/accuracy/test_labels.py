"""Reading labelled architectures: folders, CSVs, and what is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnas.accuracy import load_labels
from mnas.arch import save_arch
from mnas.errors import MnasInputError
from mnas.models import get_arch


def test_folder_reads_truth_accuracy(accel_folder: Path) -> None:
    labels = load_labels(accel_folder)
    assert labels.kind == "folder" and len(labels.items) == 40
    first = json.loads((accel_folder / Path(labels.items[0].origin).name).read_text())
    assert labels.items[0].accuracy == first["truth"]["accuracy"]
    assert "Accel-NASBench" in labels.description and "ImageNet" in labels.description


def test_csv_matches_zoo_names_and_paths(tmp_path: Path) -> None:
    save_arch(get_arch("mobilenet_v2"), tmp_path / "v2.json")
    (tmp_path / "l.csv").write_text("\ufeffarch,accuracy\nmobilenet_v3_small,67.5\nv2.json,71.8\n",
                                    encoding="utf-8")
    labels = load_labels(tmp_path / "l.csv")
    assert [i.accuracy for i in labels.items] == [67.5, 71.8]
    assert labels.lookup()[get_arch("mobilenet_v2").structure_key()].accuracy == 71.8


def test_same_network_same_value_is_one_label(tmp_path: Path) -> None:
    (tmp_path / "l.csv").write_text("arch,accuracy\nmobilenet_v2,71.8\nmobilenet_v2,71.8\n"
                                    "mobilenet_v1,70.9\n")
    assert len(load_labels(tmp_path / "l.csv").items) == 2


@pytest.mark.parametrize("body, match", [
    ("arch,accuracy\nmobilenet_v2,nan\n", "finite number"),
    ("arch,accuracy\nmobilenet_v2,high\n", "must be a number"),
    ("arch,accuracy\nmobilenet_v2,71.8\nmobilenet_v2,70.0\n", "different accuracies"),
    ("arch,acc\nmobilenet_v2,71.8\n", "header `arch,accuracy`"),
    ("arch,accuracy\n", "no labels"),
    ("arch,accuracy\nno_such_net,1\n", "neither a zoo name nor an arch file"),
])
def test_bad_csv_is_one_line_input_error(tmp_path: Path, body: str, match: str) -> None:
    (tmp_path / "l.csv").write_text(body)
    with pytest.raises(MnasInputError, match=match) as info:
        load_labels(tmp_path / "l.csv")
    assert "\n" not in str(info.value) and "l.csv" in str(info.value)


def test_bad_folders(tmp_path: Path, accel_folder: Path) -> None:
    with pytest.raises(MnasInputError, match="no such labels"):
        load_labels(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MnasInputError, match="no arch files"):
        load_labels(tmp_path / "empty")
    victim = sorted(accel_folder.glob("*.json"))[0]
    data = json.loads(victim.read_text())
    del data["truth"]
    victim.write_text(json.dumps(data))
    with pytest.raises(MnasInputError, match="no truth.accuracy"):
        load_labels(accel_folder)


def test_recipe_column_and_top1_alias(tmp_path: Path) -> None:
    (tmp_path / "l.csv").write_text("arch,top1,recipe\nmobilenet_v2,71.8,tfslim\n"
                                    "mobilenet_v2,72.9,other\nmobilenet_v1,70.9,tfslim\n")
    labels = load_labels(tmp_path / "l.csv")
    # the same network under two recipes is two labels
    assert [(i.recipe, i.accuracy) for i in labels.items] == [
        ("tfslim", 71.8), ("other", 72.9), ("tfslim", 70.9)]
    assert labels.recipes == ["tfslim", "other"]
    assert {i.source for i in labels.items} == {str(tmp_path / "l.csv")}


def test_without_a_recipe_column_the_source_is_one_recipe(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "l.csv").write_text("arch,accuracy\nmobilenet_v2,71.8\n")
    assert load_labels(tmp_path / "mine" / "l.csv").recipes == ["mine/l"]


@pytest.mark.parametrize("body, match", [
    ("arch,accuracy,recipe\nmobilenet_v2,71.8,a\nmobilenet_v1,70.9,\n",
     "recipe column is filled on some rows and empty on others \\(line 3\\)"),
    ("arch,accuracy,recipe\nmobilenet_v2,71.8,\nmobilenet_v1,70.9,b\n",
     "filled on some rows and empty on others \\(line 2\\)"),
    ("arch,accuracy,recipe\nmobilenet_v2,71.8,a\nmobilenet_v2,70.0,a\n",
     "same architecture within recipe 'a' with different accuracies"),
    ("arch,accuracy,recipe\nmobilenet_v2,NaN,a\n", "finite number"),
    ("arch,accuracy,recipe\nmobilenet_v2,,a\n", "must be a number"),
    ("arch,accuracy,recipe\nmissing.json,70,a\n", "neither a zoo name nor an arch file"),
])
def test_bad_recipe_csv_is_one_line_input_error(tmp_path: Path, body: str, match: str) -> None:
    (tmp_path / "l.csv").write_text(body)
    with pytest.raises(MnasInputError, match=match) as info:
        load_labels(tmp_path / "l.csv")
    assert "\n" not in str(info.value) and "l.csv" in str(info.value)


def test_several_sources_are_one_set(tmp_path: Path, accel_folder: Path) -> None:
    from mnas.accuracy import load_label_sources

    (tmp_path / "z.csv").write_text("arch,accuracy\nmobilenet_v2,71.8\n")
    labels = load_label_sources([accel_folder, tmp_path / "z.csv"])
    assert labels.kind == "several" and len(labels.items) == 41
    assert labels.recipes == [f"{accel_folder.parent.name}/labels", f"{tmp_path.name}/z"]
    with pytest.raises(MnasInputError, match="given twice"):
        load_label_sources([tmp_path / "z.csv", tmp_path / "z.csv"])
