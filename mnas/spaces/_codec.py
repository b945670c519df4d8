"""Flat parameters as integer codes: one column per parameter, the value an index into its choices.

A search space is define-by-run (a stage's depth decides which block parameters
exist), but its *flat* parameter names are fixed (:meth:`SearchSpace.parameter_names`,
for the deepest choices). :class:`ParamCodec` gives every such name a column and
stores a choice's index there, so a pool of candidates is one ``(n, columns)``
integer array that numpy can sample, mutate and screen without building an
:class:`~mnas.arch.Arch` per candidate. Columns of blocks beyond their stage's depth
are *inactive*: they hold a value that matters only once a mutation deepens the stage.

A stage with whole-layer operation choices (``ops:``, NAS-Bench-Macro) has one ``op``
column per layer instead of kernel and expansion. Its skipped (identity) layers after
the first build nothing, so rows that differ only in where those sit build the same
network; :meth:`ParamCodec.canonical` moves them last, as :meth:`SearchSpace.params_of`
does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mnas.errors import MnasInputError
from mnas.spaces._space import SearchSpace

__all__ = ["Codes", "ParamCodec", "StageColumns"]

Codes = npt.NDArray[np.int64]


@dataclass(frozen=True, kw_only=True)
class StageColumns:
    """Where one searchable stage's parameters live in a code row (None: a single choice).

    Attributes:
        channels: Column of ``sS_channels``.
        depth: Column of ``sS_depth``.
        slots: Per block slot (one slot when the stage shares its choices), the columns
            of ``kernel``, ``expansion``, ``se`` and ``act`` in that order (kernel and
            expansion None in a stage with ``ops``).
        ops: Per block slot, the column of its ``op`` (empty for a stage without ``ops``).
        identity: Index of the identity operation among the stage's ``ops`` (None: none).
    """

    channels: int | None
    depth: int | None
    slots: tuple[tuple[int | None, int | None, int | None, int | None], ...]
    ops: tuple[int | None, ...] = ()
    identity: int | None = None


class ParamCodec:
    """Encode, decode, sample and mutate a space's flat parameters as integer rows.

    Args:
        space: The search space.
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        names: list[str] = []
        choices: list[tuple[Any, ...]] = []

        def column(name: str, options: Sequence[Any]) -> int | None:
            if len(options) < 2:
                return None
            names.append(name)
            choices.append(tuple(options))
            return len(names) - 1

        self.width_col = column("width", space.widths)
        self.resolution_col = column("resolution", space.resolutions)
        stages: list[StageColumns] = []
        for s, stage in enumerate(space.stages, start=1):
            chan = column(f"s{s}_channels", stage.channels)
            depth = column(f"s{s}_depth", stage.depth)
            slots = []
            ops: list[int | None] = []
            for b in range(1, (1 if stage.share else max(stage.depth)) + 1):
                prefix = f"s{s}" if stage.share else f"s{s}_b{b}"
                if stage.ops:
                    ops.append(column(f"{prefix}_op", [o.label for o in stage.ops]))
                    kernel = expansion = None
                else:
                    kernel = column(f"{prefix}_kernel", stage.kernel)
                    expansion = (column(f"{prefix}_expansion", stage.expansion)
                                 if stage.type == "ir" else None)
                slots.append((kernel, expansion, column(f"{prefix}_se", stage.se),
                              column(f"{prefix}_act", stage.act)))
            identity = next((i for i, o in enumerate(stage.ops) if o.identity), None)
            stages.append(StageColumns(channels=chan, depth=depth, slots=tuple(slots),
                                       ops=tuple(ops), identity=identity))
        self.names: tuple[str, ...] = tuple(names)
        self.choices: tuple[tuple[Any, ...], ...] = tuple(choices)
        self.stages: tuple[StageColumns, ...] = tuple(stages)
        self.sizes = np.array([len(c) for c in choices], dtype=np.int64)
        self._index = [{value: i for i, value in enumerate(c)} for c in choices]
        # (column, stage number, slot number) of every block column, for the active mask
        block_cols: list[tuple[int, int, int]] = []
        for s, cols in enumerate(stages):
            if space.stages[s].share:
                continue
            for b, slot in enumerate(cols.slots, start=1):
                block_cols.extend((c, s, b) for c in slot if c is not None)
                op_col = cols.ops[b - 1] if cols.ops else None
                if op_col is not None:
                    block_cols.append((op_col, s, b))
        self._block_cols = block_cols
        # the same as arrays, for one vectorised comparison in :meth:`active`
        self._block_col = np.array([c for c, _, _ in block_cols], dtype=np.int64)
        self._block_stage = np.array([s for _, s, _ in block_cols], dtype=np.int64)
        self._block_slot = np.array([b for _, _, b in block_cols], dtype=np.int64)
        self._slot_of: list[tuple[int, int] | None] = [None] * len(names)
        for c, s, b in block_cols:
            self._slot_of[c] = (s, b)

    @property
    def width(self) -> int:
        """Number of columns."""
        return len(self.names)

    # ------------------------------------------------------------ conversion
    def encode(self, params: Mapping[str, Any]) -> list[int]:
        """The code row of ``params`` (a trial's parameters; absent names get index 0).

        Raises:
            MnasInputError: A value is not one of its parameter's choices.
        """
        row = [0] * len(self.names)
        for i, name in enumerate(self.names):
            if name in params:
                index = self._index[i].get(params[name])
                if index is None:
                    raise MnasInputError(
                        f"parameter {name!r} of space {self.space.name!r} is "
                        f"{params[name]!r}; allowed: {list(self.choices[i])}")
                row[i] = index
        return row

    def encode_many(self, pool: Sequence[Mapping[str, Any]]) -> Codes:
        """The code rows of several parameter sets, as one ``(n, columns)`` array."""
        return np.array([self.encode(p) for p in pool], dtype=np.int64).reshape(
            len(pool), len(self.names))

    def decode(self, row: Sequence[int] | npt.NDArray[np.integer[Any]]) -> dict[str, Any]:
        """The trial parameters of a code row: exactly the names ``space.sample`` suggests."""
        values = [int(v) for v in row]
        depth = [stage.depth[0] if cols.depth is None else stage.depth[values[cols.depth]]
                 for stage, cols in zip(self.space.stages, self.stages, strict=True)]
        params: dict[str, Any] = {}
        for i, name in enumerate(self.names):
            slot = self._slot_of[i]
            if slot is None or slot[1] <= depth[slot[0]]:
                params[name] = self.choices[i][values[i]]
        return params

    # ------------------------------------------------------------- sampling
    def random(self, rng: np.random.Generator, n: int) -> Codes:
        """``n`` uniformly random rows (the distribution of :meth:`SearchSpace.random_arch`).

        Column-major (Fortran order): each parameter's column is contiguous, as the
        vectorised screening reads it.
        """
        draws = rng.random((len(self.names), n)) * self.sizes[:, None]
        return draws.astype(np.int64).T

    def depths(self, codes: Codes) -> list[npt.NDArray[np.int64]]:
        """Per stage, the depth each row chooses."""
        out = []
        for stage, cols in zip(self.space.stages, self.stages, strict=True):
            if cols.depth is None:
                out.append(np.full(len(codes), stage.depth[0], dtype=np.int64))
            else:
                out.append(np.asarray(stage.depth, dtype=np.int64)[codes[:, cols.depth]])
        return out

    def active(self, codes: Codes) -> npt.NDArray[np.bool_]:
        """Which columns of each row the architecture uses (blocks within their stage's depth)."""
        mask = np.ones(codes.shape, dtype=bool)
        if not self._block_cols:
            return mask
        depths = np.stack(self.depths(codes), axis=1)  # (n, stages)
        mask[:, self._block_col] = depths[:, self._block_stage] >= self._block_slot
        return mask

    def canonical(self, codes: Codes) -> Codes:
        """``codes`` in canonical form: equal rows iff the same network.

        Inactive columns are set to 0; in a stage with ``ops``, the skipped layers after
        the first move last (with their SE and activation columns set to 0), as
        :meth:`SearchSpace.params_of` orders them.
        """
        out = np.where(self.active(codes), codes, 0)
        depths = self.depths(out) if any(c.identity is not None for c in self.stages) else []
        for s, cols in enumerate(self.stages):
            if cols.identity is None or len(cols.ops) < 3 or cols.ops[1] is None:
                continue
            later = list(range(1, len(cols.slots)))  # slots 2.. (the first may downsample)
            skipped = np.stack([(out[:, cols.ops[b]] == cols.identity) | (depths[s] <= b)
                                for b in later], axis=1)
            order = np.argsort(skipped, axis=1, kind="stable")
            for field in range(5):
                maybe = [cols.ops[b] if field == 4 else cols.slots[b][field] for b in later]
                where = [c for c in maybe if c is not None]
                if len(where) < len(maybe):
                    continue
                block = out[:, where]
                out[:, where] = np.take_along_axis(block, order, axis=1)
            moved = np.take_along_axis(skipped, order, axis=1)
            for i, b in enumerate(later):
                for c in cols.slots[b][2:]:
                    if c is not None:
                        out[:, c] = np.where(moved[:, i], 0, out[:, c])
                op = cols.ops[b]
                if op is not None:
                    out[:, op] = np.where(moved[:, i] & (depths[s] > b), cols.identity,
                                          np.where(moved[:, i], 0, out[:, op]))
        return out

    def neighbours(self, row: Sequence[int] | npt.NDArray[np.integer[Any]]) -> Codes:
        """Every row that differs from ``row`` in one active column (a one-choice move).

        Rows come column by column, values in order; a move that deepens a stage keeps the
        inactive columns it brings in as they are in ``row``.
        """
        base = np.asarray(row, dtype=np.int64)
        active = self.active(base[None])[0]
        cols = [c for c in range(len(self.names)) if active[c] and self.sizes[c] > 1]
        if not cols:
            return np.zeros((0, len(self.names)), dtype=np.int64)
        counts = np.array([self.sizes[c] - 1 for c in cols])
        out = np.repeat(base[None], int(counts.sum()), axis=0)
        col = np.repeat(cols, counts)
        step = np.concatenate([np.arange(1, n + 1) for n in counts])
        rows = np.arange(len(out))
        out[rows, col] = (base[col] + step) % self.sizes[col]
        return out

    def mutate(self, codes: Codes, rng: np.random.Generator, *,
               fixed: Sequence[int] = ()) -> Codes:
        """One-choice mutation of each row (Real et al., AAAI 2019).

        One active column with at least two choices, picked uniformly, moves to another of
        its values, picked uniformly; inactive columns are redrawn first, so a block
        that a deeper stage brings in gets random choices. Columns in ``fixed`` are never
        picked (a row's width and resolution, say).
        """
        n = len(codes)
        if n == 0 or not len(self.names):
            return codes.copy()
        fresh = self.random(rng, n)
        active = self.active(codes)
        out = np.where(active, codes, fresh)
        movable = active
        if len(fixed):
            movable = active.copy()
            movable[:, list(fixed)] = False
        pick = np.argmax(rng.random(codes.shape) * movable, axis=1)
        rows = np.arange(n)
        size = self.sizes[pick]
        step = 1 + (rng.random(n) * (size - 1)).astype(np.int64)
        out[rows, pick] = (out[rows, pick] + step) % size
        return out

