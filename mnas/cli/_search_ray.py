"""The ``mnas search`` flags of the Ray backend, parsed into :class:`mnas.search.RayOptions`.

Parsing them imports no Ray; a missing Ray is reported only with ``--backend ray``.
"""

from __future__ import annotations

import argparse

from mnas.errors import MnasInputError
from mnas.search._ray_options import BACKENDS, SCHEDULERS, RayOptions, require_ray

__all__ = ["add_ray_arguments", "ray_options"]


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
    group.add_argument("--scheduler", choices=SCHEDULERS, default=None,
                       help="ray: fifo (default) or asha (stop poor candidates of a training "
                            "proxy between epochs)")
    group.add_argument("--epochs", type=int, default=None, metavar="E",
                       help="ray: epochs of a training proxy (default: the proxy's)")
    group.add_argument("--resume", action="store_true",
                       help="ray: continue the interrupted Ray search of the run folder")


def ray_options(args: argparse.Namespace) -> RayOptions | None:
    """The :class:`~mnas.search.RayOptions` of parsed arguments (None for ``--backend optuna``).

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
    require_ray()
    return RayOptions(
        address=args.address, workers=1 if args.workers is None else args.workers,
        cpus_per_trial=1.0 if args.cpus_per_trial is None else args.cpus_per_trial,
        gpus_per_trial=0.0 if args.gpus_per_trial is None else args.gpus_per_trial,
        scheduler=args.scheduler or "fifo", epochs=args.epochs, resume=args.resume)
