"""Search spaces loaded from ``search_spaces/*.yaml``, sampled with Optuna's trial API."""

from __future__ import annotations

from mnas.spaces._codec import Codes, ParamCodec
from mnas.spaces._loader import (
    DEFAULT_SPACE,
    default_spaces_dir,
    list_spaces,
    load_space,
    space_from_dict,
)
from mnas.spaces._space import FixedBlock, SearchSpace, StageSpec, TrialLike, random_trial
from mnas.spaces._units import UnitFn, UnitSums, decomposes

__all__ = [
    "DEFAULT_SPACE",
    "Codes",
    "FixedBlock",
    "ParamCodec",
    "SearchSpace",
    "StageSpec",
    "TrialLike",
    "UnitFn",
    "UnitSums",
    "decomposes",
    "default_spaces_dir",
    "list_spaces",
    "load_space",
    "random_trial",
    "space_from_dict",
]
