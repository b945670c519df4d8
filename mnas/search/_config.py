"""The configuration of one search: everything needed to reproduce it, stored as ``config.json``."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mnas.errors import MnasInputError
from mnas.spaces import DEFAULT_SPACE

__all__ = ["CONFIG_FORMAT", "DEFAULT_EVALUATIONS", "DEFAULT_SAMPLER", "DEFAULT_TRIALS",
           "OBJECTIVES", "SAMPLERS", "SearchConfig", "default_run_name"]

CONFIG_FORMAT = "mnas-search-config/1"
OBJECTIVES = ("hard", "soft")
SAMPLERS = ("auto", "batch", "predictor", "tpe", "random", "evolution", "nsga2")
#: The default: ``batch`` (batched evolution, docs/search.md) when the estimate is
#: analytic and the search runs in this process, else ``predictor`` (chosen by measurement
#: for expensive evaluations: README, "Search efficiency"), ``nsga2`` with ``--pareto``.
DEFAULT_SAMPLER = "auto"
#: Trials of a search that runs one Optuna trial per candidate, unless told otherwise.
DEFAULT_TRIALS = 300
#: Evaluations of a batched search unless told otherwise (benchmarks/RESULTS-search-vs-evolution.md:
#: on OFA's oracle the best still rises past 10,000).
DEFAULT_EVALUATIONS = 10_000
#: Fields that define *what* is searched; a resumed run must agree on all of them.
IDENTITY_FIELDS = ("target", "budget_ms", "space", "proxy", "data", "objective", "pareto",
                   "seed", "sampler", "soft_weight", "prior")
#: Largest seed: numpy's and Optuna's samplers take 32-bit seeds.
MAX_SEED = 2**32 - 1
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    """One search's settings (the CLI flags of ``mnas search``).

    Attributes:
        target: Latency target (shipped table name, ``host`` or a table path).
        budget_ms: Latency budget in milliseconds.
        space: Search space name or YAML path.
        trials: Total finished trials wanted (a resumed run only runs the rest); in a
            batched search, evaluations (distinct candidates within the budget scored by the
            estimator). None: :data:`DEFAULT_TRIALS`, or :data:`DEFAULT_EVALUATIONS` batched.
        timeout_s: Wall-clock limit of one invocation's scoring work (zoo and trials;
            at least one trial, or one batch, always runs), or None.
        proxy: Accuracy proxy name.
        data: Dataset path for data-driven proxies, or None.
        objective: ``hard`` (budget as an Optuna constraint) or ``soft`` (MnasNet reward).
        pareto: Multi-objective search over proxy score and latency.
        seed: Seed of the sampler and the proxy.
        sampler: ``auto`` (default: ``batch`` for an analytic estimate in this process,
            else ``predictor``, ``nsga2`` with ``pareto``), ``batch`` (batched evolution),
            ``predictor``, ``tpe``, ``random``, ``evolution`` (single-objective) or ``nsga2``.
        prior: Accuracy estimate that ranks the ``predictor`` sampler's first candidates
            (an estimator name as ``proxy``; ``none``: uniform random first trials).
        name: Run folder name under ``runs_dir``.
        runs_dir: Folder holding run folders.
        top_k: Number of top architectures written to ``top/``.
        soft_weight: Exponent ``w`` of the soft reward (Tan et al. 2019, Eq. 2).
        extra: Provenance recorded at creation (versions, table header, command line).
    """

    target: str
    budget_ms: float
    space: str = DEFAULT_SPACE
    trials: int | None = None
    timeout_s: float | None = None
    proxy: str = "flops"
    data: str | None = None
    objective: str = "hard"
    pareto: bool = False
    seed: int = 0
    sampler: str = DEFAULT_SAMPLER
    name: str = ""
    runs_dir: str = "runs"
    top_k: int = 5
    soft_weight: float = -0.07
    prior: str = "default"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise MnasInputError(f"objective must be one of {', '.join(OBJECTIVES)}, got "
                                 f"{self.objective!r}")
        if self.sampler not in SAMPLERS:
            raise MnasInputError(f"sampler must be one of {', '.join(SAMPLERS)}, got "
                                 f"{self.sampler!r}")
        if self.sampler in ("evolution", "predictor", "batch") and self.pareto:
            raise MnasInputError(f"--sampler {self.sampler} is single-objective; use --sampler "
                                 "nsga2 (the default) with --pareto")
        if self.trials is not None and (isinstance(self.trials, bool)
                                        or not isinstance(self.trials, int) or self.trials < 1):
            raise MnasInputError(f"trials must be an integer >= 1, got {self.trials!r}")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise MnasInputError(f"timeout must be > 0 seconds, got {self.timeout_s!r}")
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 1:
            raise MnasInputError(f"top must be an integer >= 1, got {self.top_k!r}")
        if (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                or not 0 <= self.seed <= MAX_SEED):
            raise MnasInputError(f"seed must be an integer in [0, {MAX_SEED}] (2^32 - 1, what "
                                 f"the samplers accept), got {self.seed!r}")
        for name in ("target", "space", "proxy", "name", "runs_dir", "prior"):
            if not isinstance(getattr(self, name), str):
                raise MnasInputError(f"{name} must be a string, got {getattr(self, name)!r}")
        if (isinstance(self.budget_ms, bool) or not isinstance(self.budget_ms, int | float)
                or not 0 < self.budget_ms < math.inf):
            raise MnasInputError(f"budget_ms must be a positive number of ms, got "
                                 f"{self.budget_ms!r}")
        if self.name and not _NAME_RE.match(self.name):
            raise MnasInputError(
                f"run name {self.name!r} must start with a letter or a digit, then letters, "
                "digits, '.', '_' or '-' (no '/'), at most 100 characters")

    def to_dict(self) -> dict[str, Any]:
        """JSON form written to ``config.json``."""
        return {"format": CONFIG_FORMAT, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "config.json") -> SearchConfig:
        """Parse ``config.json`` content.

        Raises:
            MnasInputError: Wrong format tag or unknown fields.
        """
        if not isinstance(data, Mapping) or data.get("format") != CONFIG_FORMAT:
            raise MnasInputError(f"{source}: not an {CONFIG_FORMAT} file; it was not written by "
                                 "`mnas search` (or by an incompatible version)")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known - {"format"})
        if unknown:
            raise MnasInputError(f"{source}: unknown field(s) {', '.join(unknown)}")
        missing = sorted(name for name in ("target", "budget_ms") if name not in data)
        if missing:
            raise MnasInputError(f"{source}: missing field(s) {', '.join(missing)}; the file "
                                 "is damaged: restore it, or start a new run with another "
                                 "--name")
        if not isinstance(data.get("extra", {}), Mapping):
            raise MnasInputError(f"{source}: field 'extra' must be an object")
        try:
            return cls(**{k: v for k, v in data.items() if k != "format"})
        except MnasInputError as err:
            raise MnasInputError(f"{source} (stored by an earlier run, not this command "
                                 f"line): {err}; restore the file, or start a new run with "
                                 "another --name") from None

    def trial_count(self) -> int:
        """Trials wanted by a search that runs one trial per candidate."""
        return DEFAULT_TRIALS if self.trials is None else self.trials

    def evaluations(self) -> int:
        """Evaluations wanted by a batched search."""
        return DEFAULT_EVALUATIONS if self.trials is None else self.trials

    def identity(self) -> dict[str, Any]:
        """The fields a resumed run must share with the stored one."""
        return {name: getattr(self, name) for name in IDENTITY_FIELDS}

    def replace(self, **changes: Any) -> SearchConfig:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)


def default_run_name(config: SearchConfig, *, default_space: str, default_proxy: str) -> str:
    """A stable name such as ``pixel4-20ms`` (so that rerunning a command resumes it).

    Settings that differ from the defaults are appended (``-mobilenetv2``, ``-zen``,
    ``-soft``, ``-pareto``, ``-random``, ``-seed3``).
    """
    from pathlib import Path

    target = Path(config.target).stem if config.target.endswith(".json") else config.target
    parts = [target, f"{config.budget_ms:g}ms"]
    if config.space != default_space:
        parts.append(Path(config.space).stem if config.space.endswith((".yaml", ".yml"))
                     else config.space)
    if config.proxy != default_proxy:
        parts.append(config.proxy)
    if config.objective != "hard":
        parts.append(config.objective)
    if config.pareto:
        parts.append("pareto")
    if config.sampler not in (DEFAULT_SAMPLER, "nsga2" if config.pareto else DEFAULT_SAMPLER):
        parts.append(config.sampler)
    if config.sampler == "predictor" and config.prior != "default":
        parts.append(f"prior-{Path(config.prior).stem}")
    if config.seed:
        parts.append(f"seed{config.seed}")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", "-".join(parts))[:100]
    return name
