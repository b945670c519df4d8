"""``report.md``: a run's best architectures, the zoo under the same budget, and provenance.

Rendered only from files in the run folder (``config.json``, ``trials.csv``,
``top/*.json``, ``zoo.csv``) plus the target's latency table, so ``mnas report
runs/NAME`` can redo it at any time without touching the study.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from mnas._io import atomic_write_text
from mnas._limits import load_json_file
from mnas.arch import Arch, load_arch
from mnas.errors import MnasInputError
from mnas.latency import Estimate, TablePredictor, resolve_target
from mnas.search._config import SearchConfig
from mnas.spaces import load_space

__all__ = ["render_report"]


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "–" if value is None else format(value, spec)


def _m(value: int | None) -> str:
    return "–" if value is None else f"{value / 1e6:.2f} M"


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        raise MnasInputError(f"a run folder CSV holds {text!r} where a number belongs; rerun "
                             "the search command to rewrite its files") from None


def _provenance_line(predictor: TablePredictor) -> str:
    h = predictor.table.header
    threads = f"{h.threads} thread{'s' if h.threads != 1 else ''}"
    return (f"{h.provenance} ±{h.error_band * 100:.0f}% on {h.device} ({h.cpu}), "
            f"{h.runtime} {h.runtime_version}, {threads}, {h.dtype}, batch {h.batch}")


def _stage_label(s: int, n_before: int, n_searched: int) -> str:
    if n_before <= s < n_before + n_searched:
        return f"s{s - n_before + 1}"
    return "fixed"


def _block_table(arch: Arch, estimate: Estimate, predictor: TablePredictor,
                 n_before: int, n_searched: int) -> list[str]:
    cal = predictor.table.calibration
    a = cal.a if cal else 1.0
    lines = ["Units `sN.bM` are block M of searched stage N (the `sN_*` parameters); `fixed` "
             "units are outside the search.", "",
             "| # | unit | in → out | mid | k | s | SE | act | latency (ms) | source |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    units: list[tuple[str, str, str, str, str, str, str]] = [
        ("stem", f"3 → {arch.stem.channels}", "", str(arch.stem.kernel), str(arch.stem.stride),
         "", arch.stem.act)]
    for s, b, block in arch.iter_blocks():
        label = _stage_label(s, n_before, n_searched)
        units.append((f"{label}.b{b + 1} {block.type}" if label != "fixed"
                      else f"fixed {block.type}",
                      f"{block.in_channels} → {block.out_channels}",
                      str(block.mid_channels), str(block.kernel), str(block.stride),
                      str(block.se_channels) if block.has_se else "–", block.act))
    head = arch.head
    units.append(("head " + head.type, f"{arch.feature_channels} → {arch.num_classes}",
                  str(head.channels or head.hidden or ""), "1", "1", "", head.act))
    for i, (unit, per) in enumerate(zip(units, estimate.per_block, strict=True)):
        lines.append(f"| {i} | {unit[0]} | {unit[1]} | {unit[2]} | {unit[3]} | {unit[4]} | "
                     f"{unit[5]} | {unit[6]} | {a * per.ms:.3f} | {per.source} |")
    lines.append("")
    intercept = cal.b if cal else 0.0
    lines.append(f"Per-unit latencies are the table/device-model values times the calibration "
                 f"slope a = {a:.4g}; the whole-network prediction adds b = {intercept:.3g} ms.")
    return lines


def _rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """The ``columns`` of every row of a run folder's CSV, refusing one that lacks a column
    the report reads (a batched search's ``trials.csv`` has tens of thousands of rows: only
    the columns asked for are kept)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            index = {name: i for i, name in enumerate(header)}
            missing = [c for c in columns if c not in index]
            if missing:
                raise MnasInputError(
                    f"{path}: line 1 has no {', '.join(repr(c) for c in missing)} column; the "
                    "file was edited or cut short: rerun the search command to rewrite it")
            at = [index[c] for c in columns]
            rows = []
            for line, values in enumerate(reader, start=2):
                if len(values) < len(header):
                    raise MnasInputError(
                        f"{path}: line {line} has {len(values)} of {len(header)} columns; the "
                        "file was edited or cut short: rerun the search command to rewrite it")
                rows.append({c: values[i] for c, i in zip(columns, at, strict=True)})
            return rows
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise MnasInputError(f"{path}: cannot read it ({err}); rerun the search command to "
                             "rewrite the run folder's files") from None


def _estimate_line(info: dict[str, Any], proxy: str) -> str:
    """The rank's accuracy line: a fitted model's top-1 with its ± and recipe, else the
    proxy's score."""
    from mnas.accuracy import format_score

    estimate = info.get("estimate")
    if not isinstance(estimate, dict) or "score" not in estimate:
        return f"- proxy score ({proxy}): **{_fmt(info.get('score'), '.5g')}**"
    gaps = estimate.get("unsupported") or []
    note = (f"; no evidence for {'; '.join(gaps)} (no labelled network of one recipe varies "
            "it: a guess, hence the wider ±)" if gaps else "")
    return (f"- accuracy estimate ({proxy}, {estimate.get('estimator')}): "
            f"**{format_score(estimate)}**{note}")


def _evidence_lines(evidence: list[dict[str, Any]]) -> list[str]:
    """What the estimate has evidence for: per choice and half of the network, the
    contrasts its labels hold and the effect fitted (``mnas accuracy show``)."""
    if not evidence:
        return []
    out = ["- **What the estimate has evidence for** (contrasts: pairs of labelled networks of "
           "one recipe that differ in the choice; effect: its top-1 change with the choice on "
           "in the whole half):"]
    for row in evidence:
        said = ("no evidence: its effect is a guess" if not row.get("contrasts") else
                f"{row['contrasts']:,} contrasts, {row['effect']:+.2f} ±{row['sd']:.2f} points")
        out.append(f"  - {row['choice']}: {said}")
    return out


def render_report(run_dir: str | Path) -> Path:
    """(Re)write ``run_dir/report.md`` from the run folder's files.

    Raises:
        MnasInputError: ``run_dir`` is not a run folder.
    """
    from mnas.models.published import published_top1
    from mnas.proxies import arch_costs
    from mnas.weights import supernet_report_lines

    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not (config_path.exists() or config_path.is_symlink()):
        raise MnasInputError(f"{run_dir} is not a run folder (no config.json); pass a folder "
                             "written by `mnas search`, e.g. runs/pixel4-20ms")
    data = load_json_file(config_path, what="run config",
                          hint="restore it, or rerun the search with another --name")
    config = SearchConfig.from_dict(data, source=str(config_path))
    predictor = TablePredictor(resolve_target(config.target), space_hint=config.space)
    space = load_space(config.space)
    trials = _rows(run_dir / "trials.csv", ("state", "arch_hash", "feasible"))
    zoo = _rows(run_dir / "zoo.csv", ("name", "latency_ms", "fits", "score", "params", "macs",
                                      "note"))
    tops = sorted((run_dir / "top").glob("rank_*.json"))
    archs = [load_arch(p) for p in tops]
    prov = _provenance_line(predictor)
    finished = [t for t in trials if t["state"] in ("COMPLETE", "PRUNED")]
    distinct = {t["arch_hash"] for t in finished if t["arch_hash"]}
    feasible = {t["arch_hash"] for t in finished if t["feasible"] == "True"}
    extra = config.extra
    batched = (run_dir / "evaluations.jsonl").exists()
    mode = ("Pareto (NSGA-II style, score vs latency, budget as constraint)" if config.pareto
            else ("hard budget (candidates over it are screened out before scoring)" if batched
                  else "hard budget (Optuna constraint)") if config.objective == "hard"
            else f"soft MnasNet reward score·(lat/T)^{config.soft_weight}")
    sampler = config.sampler + (" (batched evolution, docs/search.md)"
                                if batched and config.sampler == "auto" else "")
    unit = "evaluation" if batched else "trial"
    counted = (f"| evaluations | {len(finished):,} distinct candidates scored in batches, "
               f"{len(feasible):,} within budget |" if batched else
               f"| trials | {len(finished)} finished, {len(distinct)} distinct architectures, "
               f"{len(feasible)} within budget |")

    out: list[str] = [f"# Search report: {config.name}", ""]
    out += [f"Command: `{extra.get('command') or 'mnas search --target ' + config.target}`", ""]
    out += ["| setting | value |", "|---|---|",
            f"| target | {config.target} — {prov} |",
            f"| budget | {config.budget_ms:g} ms |",
            f"| space | {config.space} (10^{extra.get('space_size_log10', '?')} architectures) |",
            f"| proxy | {config.proxy}{' on ' + config.data if config.data else ''} |",
            f"| objective | {mode} |",
            f"| sampler | {sampler}, seed {config.seed} |",
            counted,
            f"| created | {extra.get('created', '?')} |",
            f"| versions | {', '.join(f'{k} {v}' for k, v in extra.get('versions', {}).items())} |",
            ""]
    fastest = extra.get("fastest")
    if fastest:
        out += [f"The fastest architecture of the space on this target is predicted at "
                f"{fastest['latency_ms']:.2f} ms (exact minimum over per-block choices).", ""]
    if not archs:
        out += ["**No architecture within the budget was found.** Raise `--trials` or the "
                "budget.", ""]
    best_score = None
    for rank, arch in enumerate(archs, start=1):
        info = dict(arch.extra.get("search", {}))
        est = predictor.predict(arch)
        costs = arch_costs(arch)
        params, macs = int(costs.params), int(costs.macs)
        if rank == 1:
            best_score = info.get("score")
            out += ["## Best architecture", ""]
        elif rank == 2:
            out += ["## Runners-up", ""]
        out += [f"### Rank {rank}: {unit} {info.get('trial', '?')} "
                f"(`top/{tops[rank - 1].name}`)", "",
                f"- latency: **{est.latency_ms:.2f} ms** (band {est.low_ms:.2f}–"
                f"{est.high_ms:.2f} ms; {prov})",
                _estimate_line(info, config.proxy),
                f"- params: {_m(params)}, MACs: {_m(macs)}, resolution {arch.resolution}, "
                f"width {info.get('params', {}).get('width', '–')}",
                ""]
        if rank == 1:  # whether a known supernet has trained weights for it (mnas.weights)
            out[-1:-1] = supernet_report_lines(arch, str(run_dir))
        if rank <= 2:
            out += _block_table(arch, est, predictor, len(space.before),
                                len(space.stages)) + [""]
    recipe = (extra.get("estimate") or {}).get("recipe")
    out += ["## Zoo models under the same budget", ""]
    out += [f"Same target table and same proxy ({config.proxy}"
            + (f": top-1 % under recipe {recipe}" if recipe else "") + "); a model fits when its "
            f"predicted latency is ≤ {config.budget_ms:g} ms. Published top-1: each "
            "checkpoint's own training recipe (`mnas.models.published`).", "",
            "| model | latency (ms) | fits | score | published top-1 (source) | params | MACs | "
            "vs best |",
            "|---|---|---|---|---|---|---|---|"]
    fitting_beaten, fitting = 0, 0
    for row in sorted(zoo, key=lambda r: _float(r["latency_ms"]) or 1e18):
        score = _float(row["score"])
        lat = _float(row["latency_ms"])
        fits = row["fits"] == "True"
        verdict = ""
        if fits and score is not None and best_score is not None:
            fitting += 1
            if best_score > score:
                fitting_beaten += 1
                verdict = "best found scores higher"
            else:
                verdict = "**zoo model scores higher or equal**"
        published = published_top1(row["name"])
        out.append(f"| {row['name']} | {_fmt(lat)} | {'yes' if fits else 'no'} | "
                   f"{_fmt(score, '.5g')} | "
                   f"{f'{published[0]:.1f} ({published[1]})' if published else '–'} | "
                   f"{_m(int(row['params'])) if row['params'] else '–'} | "
                   f"{_m(int(row['macs'])) if row['macs'] else '–'} | {verdict or row['note']} |")
    out.append("")
    if fitting:
        out += [f"The best architecture found outscores {fitting_beaten} of the {fitting} zoo "
                f"models that fit the budget on the {config.proxy} proxy.", ""]
    table_path = extra.get("table", {}).get("path", config.target)
    estimate_note = ("This is an ESTIMATE from a device model, not a measurement. "
                     if predictor.table.header.provenance == "estimated" else "")
    how = predictor.table.header.how_to_measure.strip()
    how_to = f"To measure instead: {how[0].lower()}{how[1:]}" if how else ""
    out += ["## Where the numbers come from", "",
            f"- **Latency**: {prov}. Table `{table_path}`. {estimate_note}"
            f"{how_to}".rstrip(),
            f"- **Accuracy estimate**: `{config.proxy}` (seed {config.seed}): "
            f"{extra.get('estimator', 'see benchmarks/RESULTS-proxies.md')}. "
            + ("An estimate fitted on real labels of other networks, not a trained accuracy of "
               "these." if recipe else "A ranking signal measured against real labels, not a "
               "trained accuracy of these networks."),
            *_evidence_lines((extra.get("estimate") or {}).get("evidence") or []),
            "- **Params / MACs**: analytic counts of the built network "
            "(`mnas.proxies.arch_costs`: conv and Linear MACs for one image).",
            "- **Files**: `trials.csv` (every " + unit + "), `pareto.csv` / `pareto.png`, "
            "`zoo.csv`, `top/rank_*.json`, `best/arch.json`, `best/model.py`, "
            + ("`evaluations.jsonl` (every batch as evaluated, the record a rerun resumes "
               "from)." if batched else "`study.log` (Optuna journal; `optuna-dashboard "
               + str(run_dir / "study.log") + "`)."), ""]
    return atomic_write_text(run_dir / "report.md", "\n".join(out))
