"""The ``mnas search`` flags of the Ray backend, and running a search from them.

Wired into ``mnas/cli/_search.py`` with two calls: :func:`add_ray_arguments` in
``register`` and, once the :class:`~mnas.search.SearchConfig` is built,
``if args.backend == "ray": return run_from_args(args, config)``. Importing this
module does not import Ray; a missing Ray is reported only when ``--backend ray``
is used.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import warnings
from typing import Any

from mnas.errors import MnasInputError
from mnas.search._config import SearchConfig

__all__ = ["BACKENDS", "add_ray_arguments", "options_from_args", "run_from_args"]

BACKENDS = ("optuna", "ray")
_SCHEDULERS = ("fifo", "asha")  # mirrors mnas.search._ray.SCHEDULERS without importing it


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--backend`` and the Ray options to the ``mnas search`` parser."""
    group = parser.add_argument_group(
        "backend", "run trials in-process with Optuna (default) or on Ray Tune workers, on "
                   "this machine or a cluster (pip install 'mnas[ray]')")
    group.add_argument("--backend", choices=BACKENDS, default="optuna",
                       help="optuna: in-process (default); ray: Ray Tune workers")
    group.add_argument("--address", default=None, metavar="HOST:PORT",
                       help="join the Ray cluster whose head listens there (`ray start --head`); "
                            "default: start a local Ray runtime for this search")
    group.add_argument("--workers", type=int, default=None, metavar="N",
                       help="ray: trials run at the same time (default 1)")
    group.add_argument("--cpus-per-trial", type=float, default=None, metavar="C",
                       help="ray: CPUs reserved per trial, also its torch threads (default 1)")
    group.add_argument("--gpus-per-trial", type=float, default=None, metavar="G",
                       help="ray: GPUs reserved per trial (default 0)")
    group.add_argument("--scheduler", choices=_SCHEDULERS, default=None,
                       help="ray: fifo (default) or asha (stop poor candidates of a training "
                            "proxy between epochs)")
    group.add_argument("--epochs", type=int, default=None, metavar="E",
                       help="ray: epochs of a training proxy (default: the proxy's)")
    group.add_argument("--resume", action="store_true",
                       help="ray: continue the interrupted Ray search of the run folder")


def options_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~mnas.search._ray.RayOptions` of parsed arguments.

    Raises:
        MnasInputError: A Ray-only flag without ``--backend ray``, Ray not installed,
            or a bad value.
    """
    ray_only = {"--address": args.address, "--workers": args.workers,
                "--cpus-per-trial": args.cpus_per_trial, "--gpus-per-trial": args.gpus_per_trial,
                "--scheduler": args.scheduler, "--epochs": args.epochs,
                "--resume": args.resume or None}
    if args.backend != "ray":
        given = [flag for flag, value in ray_only.items() if value is not None]
        if given:
            raise MnasInputError(f"{', '.join(given)} only apply to the Ray backend; add "
                                 "--backend ray (the optuna backend resumes by rerunning the "
                                 "same command)")
        return None
    from mnas.search._ray import RayOptions, require_ray

    require_ray()
    return RayOptions(
        address=args.address, workers=1 if args.workers is None else args.workers,
        cpus_per_trial=1.0 if args.cpus_per_trial is None else args.cpus_per_trial,
        gpus_per_trial=0.0 if args.gpus_per_trial is None else args.gpus_per_trial,
        scheduler=args.scheduler or "fifo", epochs=args.epochs, resume=args.resume)


def run_from_args(args: argparse.Namespace, config: SearchConfig) -> int:
    """Run ``mnas search --backend ray`` with ``config`` and print like the default backend.

    Args:
        args: Parsed ``mnas search`` arguments (with :func:`add_ray_arguments`'s flags).
        config: The search configuration built from them.

    Returns:
        The exit code: 0, or 1 when no architecture within the budget was found.

    Raises:
        MnasInputError: See :func:`options_from_args` and
            :func:`mnas.search._ray.run_ray_search` (exit 2 through the CLI).
    """
    import optuna

    options = options_from_args(args)
    if options is None:
        raise MnasInputError("run_from_args handles --backend ray only; the optuna backend "
                             "runs through mnas.search.search")
    from mnas.search._ray import run_ray_search

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    command = shlex.join(["mnas", *sys.argv[1:]]) if sys.argv[1:2] == ["search"] else ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        result = run_ray_search(config, options=options,
                                progress=not getattr(args, "no_progress", False),
                                command=command)
    from mnas.cli._search import print_result

    return print_result(result, as_json=getattr(args, "json", False), backend="ray")
