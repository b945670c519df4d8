"""The generated source files: correct, readable, safe, and standalone."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
import torch

from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.export import pytorch_source, timm_plan, timm_source, torchvision_source
from mnas.export._api import check_batch, reference_model
from mnas.export._statedict import map_state_dict
from mnas.models import build, get_arch, list_archs

from ._helpers import fixture_arch, trained_like_weights
from ._torch_only import torch_only_path

HOSTILE_NAMES = [
    'x"""\nimport os\nos.system("touch PWNED")\n"""',
    "x'''\n__import__('os').system('touch PWNED')\n'''",
    "__import__('os').system('touch PWNED')",
    "a\\\nb\r\nc # comment\x00\u2028\"; raise SystemExit",
    "'" * 50 + '"' * 50 + "\\" * 10,
]


def _load(path: Path, name: str = "generated") -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _strings_outside_docstrings(tree: ast.Module) -> list[str]:
    doc = tree.body[0]
    strings = []
    for node in ast.walk(tree):
        is_doc = isinstance(doc, ast.Expr) and node is doc.value
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and not is_doc:
            strings.append(node.value)
    return strings


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
@pytest.mark.parametrize("writer", [pytorch_source, timm_source, torchvision_source])
def test_hostile_arch_name_never_becomes_code(writer, hostile: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    arch = fixture_arch("searched_v3").replace(name=hostile)
    source = writer(arch)
    tree = ast.parse(source)  # still valid Python
    benign = ast.parse(writer(arch.replace(name="benign")))
    # the name changes nothing but the module docstring
    assert isinstance(tree.body[0], ast.Expr) and ast.get_docstring(tree)
    assert ast.dump(ast.Module(body=tree.body[1:], type_ignores=[])) == ast.dump(
        ast.Module(body=benign.body[1:], type_ignores=[]))
    assert not any("PWNED" in s or "__import__" in s for s in _strings_outside_docstrings(tree))
    assert "__import__('os')" not in source and '"""\nimport os' not in source
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "m.py"
    path.write_text(source, encoding="utf-8")
    _load(path).build()
    assert not (tmp_path / "PWNED").exists()


def test_pytorch_source_reads_like_a_config_table() -> None:
    source = pytorch_source(fixture_arch("searched_v3"))
    assert "STAGES = (" in source and "class InvertedResidual(nn.Module)" in source
    imports = {node.names[0].name if isinstance(node, ast.Import) else node.module
               for node in ast.walk(ast.parse(source))
               if isinstance(node, ast.Import | ast.ImportFrom)}
    assert {name.split(".")[0] for name in imports} - set(sys.stdlib_module_names) == {"torch"}
    assert 'BlockSpec("ir", 24, 144, 40, 7, 2, "hswish", 40, False)' in " ".join(source.split())


def test_pytorch_source_runs_the_code_mnas_builds_with() -> None:
    # one source of truth: every class and function of mnas.models._torchnet, verbatim
    from mnas.models import _torchnet

    source = pytorch_source(fixture_arch("searched_mnas"))
    shared = [getattr(_torchnet, name) for name in _torchnet.__all__]
    code = [obj for obj in shared if inspect.isclass(obj) or inspect.isfunction(obj)]
    assert len(code) >= 10
    for obj in code:
        assert inspect.getsource(obj) in source, obj.__name__
    assert "import mnas" not in source and "from mnas" not in source


def _same_outputs(arch: Arch, module: ModuleType, tmp_path: Path, convert) -> None:
    reference = reference_model(arch, trained_like_weights(arch))
    model = module.build().eval()
    model.load_state_dict(convert(reference.state_dict(), model))
    x = check_batch(arch)
    with torch.no_grad():
        diff = (model(x) - reference(x)).abs().max().item()
    assert diff <= 1e-4


@pytest.mark.parametrize("name", ["searched_mnas", "searched_v3"])
def test_pytorch_source_matches_mnas_in_process(name: str, tmp_path: Path) -> None:
    arch = fixture_arch(name)
    path = tmp_path / "m.py"
    path.write_text(pytorch_source(arch), encoding="utf-8")
    _same_outputs(arch, _load(path), tmp_path, lambda sd, _model: sd)


_SMALL_ZOO = ["mobilenet_v3_small_075", "mobilenet_v2_035", "mnasnet_a1_035", "mobilenet_v1_025"]


def _timm_cases() -> list[object]:
    fast = ["searched_mnas", "searched_v3", *_SMALL_ZOO]
    slow = [pytest.param(n, marks=pytest.mark.slow) for n in list_archs() if n not in fast]
    return [*fast, *slow]


@pytest.mark.parametrize("name", _timm_cases())
def test_timm_builds_the_same_network(name: str, tmp_path: Path) -> None:
    arch = fixture_arch(name) if name.startswith("searched") else get_arch(name).replace(
        resolution=64)
    path = tmp_path / "t.py"
    path.write_text(timm_source(arch), encoding="utf-8")
    module = _load(path)
    timm_model = module.build()
    assert sum(p.numel() for p in timm_model.parameters()) == sum(
        p.numel() for p in build(arch).parameters())
    _same_outputs(arch, module, tmp_path, map_state_dict)


def test_timm_plan_picks_the_class_by_head() -> None:
    assert timm_plan(get_arch("mobilenet_v3_large")).model_class == "MobileNetV3"
    assert timm_plan(get_arch("mnasnet_b1")).model_class == "EfficientNet"
    plan = timm_plan(fixture_arch("searched_mnas"))
    assert plan.arch_def[1][-1].endswith("_noskip")
    assert plan.arch_def[2] == ("cn_r1_k3_s1_c24_nr6_skip",)


@pytest.mark.parametrize(("change", "message"), [
    ({"stem": "stride1"}, r"stem.stride does not fit timm"),
    ({"head_act": "swish"}, r"head.act does not fit timm"),
])
def test_timm_misfit_names_the_field(change: dict, message: str) -> None:
    from dataclasses import replace

    arch = fixture_arch("searched_mnas")
    if "stem" in change:
        arch = arch.replace(stem=replace(arch.stem, stride=1))
    else:
        arch = arch.replace(head=replace(arch.head, act="swish"))
    with pytest.raises(MnasInputError, match=message):
        timm_source(arch)


def test_torchvision_v2_source_builds_mobilenet_v2_with_same_outputs(tmp_path: Path) -> None:
    import torchvision.models

    from mnas.models.torchvision_compat import convert_state_dict

    arch = get_arch("mobilenet_v2_035").replace(resolution=64)
    path = tmp_path / "tv.py"
    path.write_text(torchvision_source(arch), encoding="utf-8")
    module = _load(path)
    assert isinstance(module.build(), torchvision.models.MobileNetV2)
    _same_outputs(arch, module, tmp_path, lambda sd, model: dict(convert_state_dict(sd, model)))


def test_torchvision_misfit_names_the_first_block() -> None:
    with pytest.raises(MnasInputError, match=r"does not fit torchvision"):
        torchvision_source(fixture_arch("searched_mnas"))


def test_pytorch_file_runs_with_torch_alone(tmp_path: Path) -> None:
    arch = fixture_arch("searched_mnas")
    model_file = tmp_path / "model.py"
    model_file.write_text(pytorch_source(arch), encoding="utf-8")
    reference = reference_model(arch, trained_like_weights(arch))
    torch.save(reference.state_dict(), tmp_path / "model.pt")
    x = check_batch(arch)
    torch.save(x, tmp_path / "x.pt")
    names = torch_only_path(tmp_path / "site")
    assert "torch" in names and not {"torchvision", "timm", "mnas"} & {n.lower() for n in names}
    script = textwrap.dedent(f"""
        import importlib.util, json, sys
        sys.path.insert(0, {str(tmp_path / "site")!r})
        absent = [n for n in ("mnas", "torchvision", "timm", "onnx", "safetensors", "numpy")
                  if importlib.util.find_spec(n) is not None]
        import torch
        spec = importlib.util.spec_from_file_location("model", {str(model_file)!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        net = module.build({str(tmp_path / "model.pt")!r}).eval()
        with torch.no_grad():
            torch.save(net(torch.load({str(tmp_path / "x.pt")!r})), {str(tmp_path / "y.pt")!r})
        print(json.dumps({{"importable": absent, "modules": sorted(
            m.split(".")[0] for m in sys.modules if m.split(".")[0] in
            ("mnas", "torchvision", "timm"))}}))
    """)
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", script], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"importable": [], "modules": []}
    with torch.no_grad():
        expected = reference(x)
    assert (torch.load(tmp_path / "y.pt") - expected).abs().max().item() <= 1e-4
