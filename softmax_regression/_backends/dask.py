r"""Fitting on a Dask cluster: the data term summed over the workers' shards.

Imported only when a fit or a prediction is given a Dask collection; needs
``dask[array]`` and ``distributed`` (the ``[dask]`` extra).

How a fit runs
--------------
1. The inputs are made Dask arrays chunked along rows only (a DataFrame
   becomes an array; chunk lengths Dask does not know cost a pass over X,
   or are read from its persisted chunks where X is held regardless;
   ``y`` and ``sample_weight`` take ``X``'s row chunks) and persisted:
   each chunk of ``X`` is computed on a worker, at most once, and stays
   there.
2. On every worker holding chunks of ``X``, one :class:`ShardActor` (a Dask
   actor) is created. It receives that worker's chunks of ``y`` and of the
   weights (small; moved to it if they live elsewhere) and only the *keys* of
   its ``X`` chunks: it reads them from the worker's own store at each
   evaluation and holds no reference in between, so a worker may spill them
   to disk like any other data and ``X`` may exceed the cluster's memory.
3. One pass over ``y`` (and the weights) finds the classes and the weight
   sums; one pass over ``X`` checks it is finite and gives the column means
   of squares (for the ``tol="auto"`` stop and the change of variables).
   Each actor then builds one
   :class:`~softmax_regression._shard.CrossEntropyShard` per chunk: the same
   data term as in memory, with each row's weight normalised by the weight
   sum of *all* rows, so the actors' results add up to the objective.
4. scipy.optimize runs on the client, unchanged. Each evaluation sends the
   coefficients (``n_coef`` float64) to every actor and gets back one
   ``(loss, gradient)``, or one Hessian product, per worker: one round trip.
   The probabilities at the last coefficients stay in the actors' shards for
   the Hessian products at the same point.

Streaming. An ``X`` larger than half the workers' memory limits together
(and not persisted by the user; Dask's configuration
``"softmax-regression.stream"`` forces either way) is not persisted: each
actor gets the task graphs of its chunks and computes them at every pass,
the next chunk read in a thread while the current one is evaluated, so a
worker holds at most two chunks and the per-row state (labels, weights,
probabilities). A pass then costs what reading the source costs (Parquet or
Zarr files: the disk's bandwidth).

On a worker, an evaluation runs its chunks one after another, each on as
many threads as the worker has (``nthreads``), with BLAS pinned to one thread
meanwhile. A worker lost during a fit is survived: Dask recomputes the lost
chunks from their graph elsewhere, the actors are rebuilt where the chunks
now are, and the evaluation is repeated (its result does not depend on where
it ran). If a chunk cannot be recomputed (scattered data, say), the fit fails
with an error that says so.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import dask
import dask.array as da
import dask.local
import numpy as np
import scipy.sparse as sp
from distributed import default_client, futures_of, get_worker, wait
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_feature_names, check_is_fitted

from .._checks import (
    check_offset_shape,
    check_two_classes,
    check_two_weighted_classes,
    target_columns,
    user_stacklevel,
)
from .._linear_loss import LinearSoftmaxLoss
from .._loss import _check_targets
from .._parallel import evaluation_threads, pin_current_thread
from .._scaling import weighted_column_square_sums
from .._scores import expected_accuracy, linear_scores
from .._shard import CrossEntropyShard, add_target_moments
from .._weights import (
    class_totals,
    class_weight_per_class,
    fold_class_weight,
    smoothed_shares,
)
from ._protocol import FitInput

__all__ = ["DaskData", "ShardActor"]

# Times a fit rebuilds its actors after losing a worker before it gives up.
_MAX_RECOVERIES = 3


class LostChunkError(RuntimeError):
    """A chunk an actor expected on its worker is not there (moved or lost)."""


def _worker_nthreads() -> int:
    return max(1, int(get_worker().state.nthreads))


class ShardActor:
    """The training rows one worker holds, as shards of the data term.

    Created by :class:`DaskData` on the worker that holds the chunks of ``X``
    named by ``x_keys`` (a Dask actor; its methods run in the worker's actor
    thread). The chunks of ``X`` are looked up in the worker's store at each
    evaluation and never kept.

    Parameters
    ----------
    x_keys : list
        Keys of the worker's chunks of ``X``, each (rows, n_features).
    y_chunks : list of ndarray
        The labels of the same rows, chunk for chunk, or their class
        probabilities (rows, n_classes).
    weight_chunks : list of ndarray or None
        Sample weights of the same rows (float64), or None for unweighted.
    first_rows : list of int, optional
        The index of each chunk's first row in the whole data, for errors.
    offset_chunks : list of ndarray, optional
        Offsets of the same rows, (rows, n_classes), or None.
    x_graphs : list of _ChunkGraph, optional
        For a streamed ``X``: each chunk's task graph, computed on this worker
        at every pass (the next chunk read while the current one is used), so
        that no chunk stays in memory between passes. None: the chunks are in
        the worker's store.
    """

    def __init__(
        self,
        x_keys: list,
        y_chunks: list,
        weight_chunks: list | None,
        first_rows: list | None = None,
        offset_chunks: list | None = None,
        x_graphs: list | None = None,
    ):
        self.x_keys = x_keys
        self.x_graphs = x_graphs
        self.y_chunks = [np.asarray(y) for y in y_chunks]
        self.soft = bool(self.y_chunks) and self.y_chunks[0].ndim == 2
        if not self.soft:
            self.y_chunks = [y.ravel() for y in self.y_chunks]
        self.first_rows = first_rows or [0] * len(x_keys)
        self.weight_chunks = weight_chunks
        self.offset_chunks = offset_chunks
        self.shards: list[CrossEntropyShard] = []
        self._executor: ThreadPoolExecutor | None = None

    def _x(self, index: int):
        key = self.x_keys[index]
        if self.x_graphs is not None:
            return self.x_graphs[index].compute()
        try:
            return get_worker().data[key]
        except KeyError:
            raise LostChunkError(f"chunk {key!r} of X is no longer here") from None

    def _each_x(self) -> Iterator:
        """Yield this worker's chunks of ``X`` in order.

        Streamed chunks are computed one ahead in a thread of their own, so
        that reading the next overlaps the work on this one: at most two are
        in memory.
        """
        count = len(self.x_keys)
        if self.x_graphs is None or count < 2:
            for index in range(count):
                yield self._x(index)
            return
        with ThreadPoolExecutor(1, thread_name_prefix="softmax-read") as reader:
            pending = reader.submit(self._x, 0)
            for index in range(count):
                chunk = pending.result()
                if index + 1 < count:
                    pending = reader.submit(self._x, index + 1)
                yield chunk
                del chunk

    def _each_shard(self) -> Iterator:
        """Yield ``(X chunk, shard)`` for this worker's chunks, in order."""
        return zip(self._each_x(), self.shards, strict=True)

    def summarise(self) -> dict:
        """Labels and weight totals of this worker's rows (one pass over y)."""
        if self.soft:
            return self._summarise_targets()
        rows = sum(y.size for y in self.y_chunks)
        labels = [np.unique(y) for y in self.y_chunks]
        labels = np.unique(np.concatenate(labels)) if labels else np.array([])
        summary = {"rows": rows, "labels": labels, "bad_weight": None}
        if self.weight_chunks is not None:
            weights = [np.asarray(w, dtype=np.float64) for w in self.weight_chunks]
            self.weight_chunks = weights
            for w in weights:
                bad = ~np.isfinite(w) | (w < 0)
                if bad.any():
                    summary["bad_weight"] = float(w[bad][0])
                    return summary
            # Per label: weight sums and largest weights, for class weights.
            sums, largest = np.zeros(labels.size), np.zeros(labels.size)
            for y, w in zip(self.y_chunks, weights, strict=True):
                index = np.searchsorted(labels, y)
                sums += class_totals(index, labels.size, w)
                np.maximum.at(largest, index, w)
            summary["label_weight_sums"] = sums
            summary["label_largest_weights"] = largest
        else:
            summary["label_counts"] = sum(
                (
                    class_totals(np.searchsorted(labels, y), labels.size)
                    for y in self.y_chunks
                ),
                np.zeros(labels.size, dtype=np.int64),
            )
        return summary

    def _summarise_targets(self) -> dict:
        """:meth:`summarise` for class probabilities: their checks and sums.

        Returns the weighted column sums of the targets, the largest weight
        and ``sum_i s_i q_i q_i^T`` (n_classes x n_classes), from which the
        class shares under any class weights follow (see DaskData).
        """
        n_classes = self.y_chunks[0].shape[1]
        summary = {
            "rows": sum(q.shape[0] for q in self.y_chunks),
            "bad_weight": None,
            "bad_targets": None,
            "target_sums": np.zeros(n_classes),
            "target_products": np.zeros((n_classes, n_classes)),
            "largest_weight": 0.0,
        }
        weights = self.weight_chunks
        if weights is not None:
            weights = [np.asarray(w, dtype=np.float64) for w in weights]
            self.weight_chunks = weights
        for index, targets in enumerate(self.y_chunks):
            try:
                targets = _check_targets(
                    targets, name="y", first_row=self.first_rows[index]
                )
            except ValueError as error:
                summary["bad_targets"] = str(error)
                return summary
            self.y_chunks[index] = targets
            targets64 = targets.astype(np.float64, copy=False)
            if weights is None:
                summary["target_sums"] += targets64.sum(axis=0)
                summary["target_products"] += targets64.T @ targets64
                summary["largest_weight"] = 1.0
                continue
            w = weights[index]
            bad = ~np.isfinite(w) | (w < 0)
            if bad.any():
                summary["bad_weight"] = float(w[bad][0])
                return summary
            summary["target_sums"] += w @ targets64
            summary["target_products"] += (targets64 * w[:, None]).T @ targets64
            if w.size:
                summary["largest_weight"] = max(summary["largest_weight"], w.max())
        return summary

    def prepare(
        self,
        classes: np.ndarray,
        class_weight: np.ndarray | None,
        weight_factors: tuple[float, float],
        n_samples: int,
        fit_intercept: bool,
        label_smoothing: float = 0.0,
    ) -> dict:
        """Build the shards; return the column sums of squares (a pass over X).

        Row weights are ``s_i c_{y_i} / m / (S / m)`` with ``m`` the largest
        and ``S`` the sum of all the rows' weights (``weight_factors``), as
        :func:`~softmax_regression._weights.normalised_weights` makes them in memory.
        """
        self.close()
        n_threads = _worker_nthreads()
        if n_threads > 1:  # one pool for all the chunks' shards
            self._executor = ThreadPoolExecutor(
                n_threads,
                thread_name_prefix="softmax-regression",
                initializer=pin_current_thread,
            )
        largest, relative_sum = weight_factors
        square_sums, entries, finite = None, 0, True
        with evaluation_threads(1):
            for index, X in enumerate(self._each_x()):
                if self.soft:
                    y = self.y_chunks[index]  # class probabilities
                else:
                    y = np.searchsorted(classes, self.y_chunks[index])
                rows = y.shape[0]
                if self.weight_chunks is None and class_weight is None:
                    relative = None
                    normalised = np.full(rows, 1.0 / n_samples)
                else:
                    weight = (
                        np.ones(rows)
                        if self.weight_chunks is None
                        else self.weight_chunks[index]
                    )
                    if class_weight is not None:
                        weight = fold_class_weight(weight, class_weight, y)
                    relative = weight / largest
                    normalised = relative / relative_sum
                values = X.data if sp.issparse(X) else X
                finite = finite and bool(np.isfinite(values).all())
                offset = None
                if self.offset_chunks is not None:
                    offset = np.asarray(self.offset_chunks[index])
                    if offset.shape != (rows, classes.size) or not bool(
                        np.isfinite(offset).all()
                    ):
                        # The estimator's error, from the whole offset's shape.
                        return {"bad_offset": True}
                    offset = offset.astype(X.dtype, copy=False)
                sums = weighted_column_square_sums(X, relative)
                square_sums = sums if square_sums is None else square_sums + sums
                entries += X.nnz if sp.issparse(X) else X.size
                self.shards.append(
                    CrossEntropyShard(
                        X,
                        y,
                        classes.size,
                        normalised,
                        fit_intercept,
                        n_threads,
                        executor=self._executor,
                        label_smoothing=label_smoothing,
                        offset=offset,
                    )
                )
        return {"square_sums": square_sums, "entries": entries, "finite": finite}

    def loss_gradient(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        """Sum of the shards' data terms and gradients at ``coef``."""
        loss, gradient = 0.0, np.zeros(coef.size)
        with evaluation_threads(1):
            for X, shard in self._each_shard():
                part_loss, part_gradient = shard.loss_gradient(X, coef)
                loss += part_loss
                gradient += part_gradient
        return loss, gradient

    def hessp(self, coef: np.ndarray, direction: np.ndarray) -> np.ndarray:
        """Sum of the shards' Hessian products at ``coef`` with ``direction``."""
        product = np.zeros(coef.size)
        with evaluation_threads(1):
            for X, shard in self._each_shard():
                product += shard.hessp(X, coef, direction)
        return product

    def target_moments(self) -> tuple:
        """Sum of the shards' :meth:`~.CrossEntropyShard.target_moments`."""
        with evaluation_threads(1):
            parts = [shard.target_moments(X) for X, shard in self._each_shard()]
        return add_target_moments(parts)

    def dual_entropy(self, coef: np.ndarray, tau: float, row: np.ndarray) -> float:
        """Sum of the shards' :meth:`~.CrossEntropyShard.dual_entropy`."""
        with evaluation_threads(1):
            return sum(
                shard.dual_entropy(X, coef, tau, row) for X, shard in self._each_shard()
            )

    def close(self) -> None:
        """Stop the shards' threads."""
        for shard in self.shards:
            shard.close()
        self.shards = []
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def _dask_array(value, name: str):
    """Return a Dask DataFrame, Series or array as a Dask array (lazily)."""
    if hasattr(value, "to_dask_array"):  # DataFrame or Series
        if not isinstance(getattr(value, "dtype", None), (np.dtype, type(None))):
            # A pandas extension dtype (strings, nullable integers): as
            # objects, which Dask would otherwise convert with a warning.
            value = value.astype(object)
        return value.to_dask_array()
    if not isinstance(value, da.Array):
        raise TypeError(
            f"{name} is a {type(value).__name__}: Dask input must be a dask.array "
            "Array, DataFrame or Series."
        )
    return value


def _with_known_chunks(array, client=None):
    """Return ``array`` with the lengths of its row chunks known.

    Dask does not know them for a DataFrame read from files or for a boolean
    selection. With a ``client`` the rows are persisted first and the lengths
    read from the chunks on the workers: the pass over the data a fit makes
    anyway. Without, the lengths cost a pass of their own. (A DataFrame's own
    ``to_dask_array(lengths=True)`` may count the rows of differently fused
    partitions than its values have: Dask's optimiser merges small Parquet
    partitions when a few columns are read.)
    """
    if not any(np.isnan(size) for size in array.chunks[0]):
        return array
    if client is not None:
        array = client.persist(array)
    array.compute_chunk_sizes()  # in place
    return array


def _as_row_chunked_array(value, name: str):
    """Return a Dask collection as a Dask array of known row chunks."""
    return _with_known_chunks(_dask_array(value, name), _client())


# Above this share of the workers' total memory limit, an X that is not
# persisted is streamed: read from its source at every pass instead of held.
_STREAM_SHARE = 0.5


def _place_x(X, client) -> tuple:
    """Return ``X`` with known row chunks, and whether the fit streams it.

    Dask's configuration ``"softmax-regression.stream"`` decides: True streams,
    False persists, ``"auto"`` (the default) streams a dense ``X`` larger than
    half the workers' memory limits together. Persisted, ``X`` is read once and
    held on the workers; streamed, each pass computes every chunk from its
    graph (reads its files) on the worker that evaluates it, and only the
    per-row state stays. An ``X`` the user persisted is never streamed.
    """
    setting = dask.config.get("softmax-regression.stream", "auto")
    if setting not in ("auto", True, False):
        raise ValueError(
            'dask.config "softmax-regression.stream" must be "auto", True or '
            f"False; got {setting!r}."
        )
    # Sparse X's size in memory is unknown before it is read: held.
    if (
        futures_of(X)
        or setting is False
        or (setting == "auto" and sp.issparse(X._meta))
    ):
        return _with_known_chunks(X, client), False
    X = _with_known_chunks(X)  # unknown lengths: a pass of their own
    if setting is True:
        return X, True
    limits = [
        worker.get("memory_limit") or 0
        for worker in client.scheduler_info()["workers"].values()
    ]
    streamed = bool(limits) and all(limits) and X.nbytes > _STREAM_SHARE * sum(limits)
    return X, streamed


def _check_x(X):
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D X; got a Dask array of shape {X.shape}.")
    if X.dtype.kind not in "fiub":
        raise ValueError(
            f"X must hold numbers; got a Dask array of dtype {X.dtype}. Encode "
            "the columns as numbers first."
        )
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if len(X.chunks[1]) > 1:  # every chunk holds whole rows
        X = X.rechunk({1: -1})
    return X


def _check_rows(value, name: str, X, *, dtype=None):
    """``y`` or the weights as a 1-D Dask array in ``X``'s row chunks."""
    if not dask.is_dask_collection(value):
        value = np.asarray(value, dtype=dtype)
        if value.ndim != 1 or value.shape[0] != X.shape[0]:
            raise ValueError(
                f"{name} must have shape ({X.shape[0]},), like X's rows; got "
                f"{value.shape}."
            )
        return da.from_array(value, chunks=(X.chunks[0],))
    value = _as_row_chunked_array(value, name)
    if value.ndim == 2 and value.shape[1] == 1:
        warnings.warn(
            f"A column-vector {name} was passed when a 1d array was expected. "
            "Please change the shape of y to (n_samples, ), for example using "
            "ravel().",
            DataConversionWarning,
            stacklevel=user_stacklevel(),
        )
        value = value[:, 0]
    if value.ndim != 1 or value.shape[0] != X.shape[0]:
        raise ValueError(
            f"{name} must have shape ({X.shape[0]},), like X's rows; got {value.shape}."
        )
    if dtype is not None:
        value = value.astype(dtype)
    if value.chunks[0] != X.chunks[0]:
        value = value.rechunk((X.chunks[0],))
    return value


def _check_targets_rows(value, X):
    """Return class probabilities as a Dask array in ``X``'s row chunks.

    Its columns in one chunk, as floats; checked on the workers (see
    :meth:`ShardActor.summarise`).
    """
    return _check_table_rows(value, "y", X)


def _check_table_rows(value, name: str, X):
    """Return a table (class probabilities, offsets) in ``X``'s row chunks.

    Its columns in one chunk, as floats; its values are checked on the workers.
    """
    if not dask.is_dask_collection(value):
        value = da.from_array(np.asarray(value), chunks=(X.chunks[0], -1))
    value = _as_row_chunked_array(value, name)
    if value.ndim != 2 or value.shape[0] != X.shape[0]:
        raise ValueError(
            f"{name} must have one row per row of X ({X.shape[0]}); got {value.shape}."
        )
    if value.dtype.kind not in "fiub":
        what = (
            "so it is read as a table of class probabilities"
            if name == "y"
            else "one column per class"
        )
        raise ValueError(
            f"{name} is 2-D with {value.shape[1]} columns, {what}, but its dtype "
            f"is {value.dtype}, not numeric."
        )
    if value.dtype not in (np.float32, np.float64):
        value = value.astype(np.float64)
    if value.chunks[0] != X.chunks[0] or len(value.chunks[1]) > 1:
        value = value.rechunk((X.chunks[0], -1))
    return value


def _client():
    try:
        return default_client()
    except ValueError:
        raise ValueError(
            "Fitting on Dask collections needs a dask.distributed Client: create "
            "one first (Client(LocalCluster()) on one machine, or Client(address) "
            "for a cluster)."
        ) from None


class DaskData:
    """Training data on a Dask cluster, as a fit sees it (a FitData).

    Validates and persists the inputs, creates the actors and makes the
    passes over ``y`` and ``X`` (see the module docstring). Use as a context
    manager: leaving it releases the actors and the persisted chunks.

    Parameters
    ----------
    X : dask Array or DataFrame of shape (n_samples, n_features)
    y : dask Array or Series, or array-like, of shape (n_samples,)
    sample_weight : dask Array or Series, or array-like, or None
    class_weight : dict, "balanced" or None
        As the estimator's ``class_weight``.
    fit_intercept : bool
    estimator_name : str
        For error messages.
    label_smoothing : float, default=0.0
        The share of each target spread uniformly over the classes.
    offset : dask Array or array-like of shape (n_samples, n_classes), optional
        Added to the raw scores; put in ``X``'s row chunks.
    """

    # The Hessian is formed only for small data, which stays in memory.
    can_form_hessian = False

    def __init__(
        self,
        X,
        y,
        sample_weight,
        class_weight,
        fit_intercept: bool,
        estimator_name,
        label_smoothing: float = 0.0,
        offset=None,
    ) -> None:
        self.client = _client()
        X, streamed = _place_x(_check_x(_dask_array(X, "X")), self.client)
        columns = target_columns(y)
        self.soft = columns is not None
        if self.soft:
            y = _check_targets_rows(y, X)
            self.classes = np.asarray(columns)
        else:
            y = _check_rows(y, "y", X)
        self.label_smoothing = label_smoothing
        weight = None
        if sample_weight is not None:
            weight = _check_rows(sample_weight, "sample_weight", X, dtype=np.float64)
        if X.shape[0] == 0:
            raise ValueError(
                "Found array with 0 sample(s) while a minimum of 1 is required."
            )
        if offset is not None:
            offset = _check_table_rows(offset, "offset", X)
        self.X = X
        self.shape = X.shape
        self.dtype = X.dtype
        self.sparse = sp.issparse(X._meta)
        # Sums that do not depend on the coefficients (_duality), kept for
        # every fit on this data (a path of Cs).
        self.moments_cache: dict = {}
        self.fit_intercept = fit_intercept
        self._name = estimator_name
        self._class_weight = class_weight
        extra = [part for part in (weight, offset) if part is not None]
        self.streamed = streamed
        persisted = self.client.persist([y, *extra] if streamed else [X, y, *extra])
        self._persisted = persisted
        self._actors: list = []
        if streamed:
            # Each chunk's own graph (what it reads), computed by its actor.
            chunks = X.to_delayed(optimize_graph=True)[:, 0]
            self._x_graphs = [_ChunkGraph(chunk) for chunk in chunks]
            self._x_keys = [chunk.key for chunk in chunks]
            persisted = [None, *persisted]
        else:
            self._x_graphs = None
            self._x_keys = _keys(persisted[0])
        self._first_rows = np.cumsum((0, *X.chunks[0][:-1])).tolist()
        self._y_keys = _keys(persisted[1])
        self._weight_keys = None if weight is None else _keys(persisted[2])
        self._offset_keys = None if offset is None else _keys(persisted[-1])
        self._offset_shape = None if offset is None else offset.shape
        try:
            self._summarise()
            self._prepare()
        except BaseException:
            self.close()
            raise

    # -- set-up ---------------------------------------------------------------

    def _futures(self) -> dict:
        return {f.key: f for f in futures_of(self._persisted)}

    def _start_actors(self) -> None:
        """One actor per worker holding chunks of X, given its chunks' rows."""
        futures = self._futures()
        wait(list(futures.values()))
        for future in futures.values():
            if future.status == "error":
                future.result()  # raises the chunk's error
        by_worker = self._x_chunks_by_worker(futures)
        actor_futures = []
        for worker, indices in by_worker.items():
            y_chunks = [futures[self._y_keys[i]] for i in indices]
            weight_chunks = (
                None
                if self._weight_keys is None
                else [futures[self._weight_keys[i]] for i in indices]
            )
            offset_chunks = (
                None
                if self._offset_keys is None
                else [futures[self._offset_keys[i]] for i in indices]
            )
            actor_futures.append(
                self.client.submit(
                    ShardActor,
                    [self._x_keys[i] for i in indices],
                    y_chunks,
                    weight_chunks,
                    [self._first_rows[i] for i in indices],
                    offset_chunks,
                    None
                    if self._x_graphs is None
                    else [self._x_graphs[i] for i in indices],
                    workers=[worker],
                    allow_other_workers=False,
                    actor=True,
                    pure=False,
                )
            )
        self._actor_futures = actor_futures
        self._actors = [future.result() for future in actor_futures]

    def _x_chunks_by_worker(self, futures: dict) -> dict[str, list[int]]:
        """Which worker's actor evaluates which chunks of ``X``.

        Persisted chunks where they are; streamed ones in contiguous runs of
        equal length over the workers there are now.
        """
        by_worker: dict[str, list[int]] = {}
        if self._x_graphs is not None:
            workers = sorted(self.client.scheduler_info()["workers"])
            if not workers:
                raise RuntimeError("the cluster has no workers to read X on")
            count = len(self._x_keys)
            for index in range(count):
                worker = workers[index * len(workers) // count]
                by_worker.setdefault(worker, []).append(index)
            return by_worker
        who_has = self.client.who_has([futures[key] for key in self._x_keys])
        for index, key in enumerate(self._x_keys):
            holders = who_has.get(key) or who_has.get(str(key))
            if not holders:
                raise RuntimeError(f"no worker holds chunk {key!r} of X")
            by_worker.setdefault(holders[0], []).append(index)
        return by_worker

    def _summarise(self) -> None:
        """Classes and weight totals, from one pass over y (and the weights)."""
        self._start_actors()
        summaries = [s.result() for s in [a.summarise() for a in self._actors]]
        for summary in summaries:
            if summary.get("bad_targets") is not None:
                raise ValueError(summary["bad_targets"])
            if summary["bad_weight"] is not None:
                raise ValueError(
                    "sample_weight must be finite and non-negative; found "
                    f"{summary['bad_weight']!r}."
                )
        if self.soft:
            self._summarise_targets(summaries)
            return
        classes = np.unique(np.concatenate([s["labels"] for s in summaries]))
        check_classification_targets(classes)
        check_two_classes(classes, self._name)
        n_classes = classes.size
        weighted = self._weight_keys is not None
        if weighted:
            sums, largest = np.zeros(n_classes), np.zeros(n_classes)
            for s in summaries:
                index = np.searchsorted(classes, s["labels"])
                sums[index] += s["label_weight_sums"]
                largest[index] = np.maximum(largest[index], s["label_largest_weights"])
        else:
            sums = np.zeros(n_classes)
            for s in summaries:
                sums[np.searchsorted(classes, s["labels"])] += s["label_counts"]
            largest = (sums > 0).astype(float)
        class_weight = None
        if self._class_weight is not None:
            # "balanced" reads only the (weighted) count of each class.
            class_weight = class_weight_per_class(
                self._class_weight, classes, classes, sums
            )
            sums, largest = sums * class_weight, largest * class_weight
        if weighted or class_weight is not None:
            check_two_weighted_classes(classes, sums, self._name)
        self.classes = classes
        self.n_classes = n_classes
        self._class_weight_vector = class_weight
        m = float(largest.max()) if (weighted or class_weight is not None) else 1.0
        relative_sums = sums / m
        relative_sum = float(relative_sums.sum())
        if not weighted and class_weight is None:
            relative_sum = float(self.shape[0])
        self._weight_factors = (m, relative_sum)
        self._priors = smoothed_shares(
            relative_sums / relative_sums.sum(), self.label_smoothing
        )

    def _summarise_targets(self, summaries: list) -> None:
        r"""Class weights, weight sum and class shares for class probabilities.

        With class weights :math:`c`, sample :math:`i` weighs
        :math:`s_i q_i^\top c`; the shares are :math:`\sum_i s_i (q_i^\top
        c) q_i = M c` with :math:`M = \sum_i s_i q_i q_i^\top`, and "balanced"
        counts class :math:`k` as :math:`\sum_i s_i q_{ik}`.
        """
        n_classes = self.classes.size
        sums = sum(s["target_sums"] for s in summaries)
        products = sum(s["target_products"] for s in summaries)
        largest = max(s["largest_weight"] for s in summaries)
        weighted = self._weight_keys is not None
        class_weight = None
        if self._class_weight is not None:
            class_weight = class_weight_per_class(
                self._class_weight, self.classes, self.classes, sums
            )
            shares = products @ class_weight
            # An upper bound of every s_i q_i.c (the rows sum to one): the
            # divisor that keeps relative weights at most 1.
            largest *= float(class_weight.max())
        else:
            shares = sums
        check_two_weighted_classes(self.classes, shares, self._name)
        self.n_classes = n_classes
        self._class_weight_vector = class_weight
        if not weighted and class_weight is None:
            self._weight_factors = (1.0, float(self.shape[0]))
        else:
            self._weight_factors = (largest, float(shares.sum()) / largest)
        self._priors = smoothed_shares(shares / shares.sum(), self.label_smoothing)

    def _prepare(self) -> None:
        """Shards on every actor; finiteness and column squares, one pass over X."""
        results = [
            r.result()
            for r in [
                actor.prepare(
                    self.classes,
                    self._class_weight_vector,
                    self._weight_factors,
                    self.shape[0],
                    self.fit_intercept,
                    self.label_smoothing,
                )
                for actor in self._actors
            ]
        ]
        if any(r.get("bad_offset") for r in results):
            check_offset_shape(self._offset_shape, self.shape[0], self.n_classes)
            raise ValueError("offset must not contain NaN or infinity.")
        if not all(r["finite"] for r in results):
            raise ValueError("Input X contains NaN or infinity.")
        square_sums = sum(r["square_sums"] for r in results)
        self._column_square_means = square_sums / self._weight_factors[1]
        self._entries = sum(r["entries"] for r in results)

    def describe(self, seconds: float) -> str:
        """One line on how the data sits on the cluster, for ``verbose``."""
        n_rows, n_features = self.shape
        held = (
            "streamed: read from its source at every pass"
            if self.streamed
            else "persisted on the workers"
        )
        n_workers = len(self._actors)
        workers = f"{n_workers} worker" + ("s" if n_workers != 1 else "")
        return (
            f"Dask: X {n_rows:,} x {n_features} {self.dtype} in "
            f"{len(self._x_keys):,} chunks on {workers}, {held}; "
            f"set-up {seconds:.1f} s (labels, weights and one pass over X)"
        )

    # -- what fit_coef reads ----------------------------------------------------

    def entries(self) -> int:
        """Return the stored entries of ``X``."""
        return self._entries

    def class_priors(self) -> np.ndarray:
        return self._priors

    def weight_sum_factors(self) -> tuple[float, float]:
        return self._weight_factors

    def column_square_means(self) -> np.ndarray:
        return self._column_square_means

    @staticmethod
    def from_host(array: np.ndarray) -> np.ndarray:
        """Return ``array``: the fitted attributes are NumPy arrays, on the client."""
        return array

    @contextmanager
    def objective(
        self,
        l2_reg_strength: float | np.ndarray,
        fit_intercept: bool,
        n_threads: int | None,
    ) -> Iterator[LinearSoftmaxLoss]:
        """Open the objective whose data term the actors evaluate."""
        yield LinearSoftmaxLoss(
            _DaskDataTerm(self),
            self.n_classes,
            self.shape[1],
            l2_reg_strength,
            fit_intercept,
        )

    # -- evaluation, with recovery --------------------------------------------

    def call(self, method: str, *args) -> list:
        """Call ``method`` on every actor; rebuild them if a worker was lost."""
        for attempt in range(_MAX_RECOVERIES + 1):
            try:
                calls = [getattr(actor, method)(*args) for actor in self._actors]
                return [call.result() for call in calls]
            except (OSError, LostChunkError, RuntimeError) as error:
                if isinstance(error, RuntimeError) and not (
                    isinstance(error, LostChunkError) or "Actor" in str(error)
                ):
                    raise
                if attempt == _MAX_RECOVERIES:
                    raise RuntimeError(
                        f"{self._name}: lost workers {attempt + 1} times during "
                        f"the fit; giving up (last error: {error!r})."
                    ) from error
                self._recover(error)
        raise AssertionError("unreachable")

    def _recover(self, error: BaseException) -> None:
        warnings.warn(
            f"{self._name}: a Dask worker was lost during the fit ({error!r}); "
            "its chunks are recomputed where Dask can and the shards rebuilt. "
            "The fit goes on from where it was.",
            RuntimeWarning,
            stacklevel=2,
        )
        self._release_actors()
        try:
            self._summarise()
            self._prepare()
        except Exception as rebuild_error:
            raise RuntimeError(
                f"{self._name}: a Dask worker was lost during the fit and its "
                f"chunks of the training data could not be restored "
                f"({rebuild_error!r}). Persist X from a graph Dask can "
                "recompute (not scattered data), or fit again."
            ) from rebuild_error

    def _release_actors(self) -> None:
        for actor in self._actors:
            with contextlib.suppress(Exception):
                actor.close().result(timeout=10)
        self._actors = []
        self._actor_futures = []

    def close(self) -> None:
        """Stop the actors and release the persisted chunks."""
        self._release_actors()
        self._persisted = []

    def __enter__(self) -> DaskData:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _ChunkGraph:
    """One chunk's task graph, computed where it is needed.

    An object, not the graph's dict: given a dict, ``Client.submit`` would
    read the graph's keys as the actor's dependencies.
    """

    def __init__(self, chunk) -> None:
        self.graph = dict(chunk.__dask_graph__())
        self.key = chunk.key

    def compute(self):
        return dask.local.get_sync(self.graph, self.key)


def _keys(array) -> list:
    """Return the keys of an array's chunks in row order (one column chunk)."""
    return [key[0] if isinstance(key, list) else key for key in array.__dask_keys__()]


class _DaskDataTerm:
    """The data term as the sum over the actors' shards: one round trip each."""

    def __init__(self, data: DaskData) -> None:
        self.data = data

    def loss_gradient(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        loss, gradient = 0.0, np.zeros(coef.size)
        for part_loss, part_gradient in self.data.call("loss_gradient", coef):
            loss += part_loss
            gradient += part_gradient
        return loss, gradient

    def hessp(self, coef: np.ndarray, direction: np.ndarray) -> np.ndarray:
        return sum(self.data.call("hessp", coef, direction), np.zeros(coef.size))

    def target_moments(self) -> tuple:
        return add_target_moments(self.data.call("target_moments"))

    def dual_entropy(self, coef: np.ndarray, tau: float, row: np.ndarray) -> float:
        return sum(self.data.call("dual_entropy", coef, tau, row))

    def close(self) -> None:
        pass  # the actors live as long as the DaskData


# -- predictions ------------------------------------------------------------------


def _predict_block(block, model, method: str, offset_block=None):
    return getattr(model, method)(block, offset=offset_block)


def _scores_block(block, coef, intercept, offset_block=None):
    scores = linear_scores(block, coef, intercept)
    if offset_block is not None:
        scores += offset_block
    return scores


def _prediction_offset(offset, X, n_classes: int):
    """``offset`` in ``X``'s row chunks (or None), its shape checked."""
    if offset is None:
        return None
    offset = _check_table_rows(offset, "offset", X)
    check_offset_shape(offset.shape, X.shape[0], n_classes)
    return offset


def _prediction_input(estimator, X, lengths: bool = False):
    """Check a Dask ``X`` against the fitted estimator; as an array of rows."""
    _check_feature_names(estimator, getattr(X, "_meta", X), reset=False)
    X = _dask_array(X, "X")
    if lengths:
        X = _with_known_chunks(X)
    if X.ndim != 2 or X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has shape {X.shape}, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def predict(estimator, X, method: str, offset=None, *, lengths: bool = False):
    """``estimator.<method>(X)`` for a Dask ``X``, as a lazy Dask array.

    Chunk for chunk: each row chunk of ``X`` gives the same rows of the
    result, computed by the estimator's own in-memory method.
    """
    check_is_fitted(estimator)
    X = _prediction_input(estimator, X, lengths or offset is not None)
    offset = _prediction_offset(offset, X, estimator.classes_.size)
    blocks = () if offset is None else (offset,)
    # Blocks are plain arrays: the copy has no feature names to check them by.
    model = dask.delayed(_strip_feature_names(estimator), pure=True)
    if method == "predict":
        dtype = estimator.classes_.dtype
    else:
        dtype = estimator.coef_.dtype
    if method == "predict" or (
        method == "decision_function" and estimator.classes_.size == 2
    ):
        return X.map_blocks(
            _predict_block,
            model,
            method,
            *blocks,
            drop_axis=1,
            dtype=dtype,
            meta=np.empty((0,), dtype=dtype),
        )
    return X.map_blocks(
        _predict_block,
        model,
        method,
        *blocks,
        chunks=(X.chunks[0], (estimator.classes_.size,)),
        dtype=dtype,
        meta=np.empty((0, 0), dtype=dtype),
    )


def _strip_feature_names(estimator):
    import copy

    model = copy.copy(estimator)
    model.__dict__.pop("feature_names_in_", None)
    return model


def _checked_targets(block, n_classes: int):
    return _check_targets(block, n_classes, name="y")


def score(estimator, X, y, sample_weight=None, offset=None) -> float:
    """Mean (weighted) accuracy on Dask input, computed on the cluster.

    For class probabilities ``y``, the expected accuracy (see the estimator's
    ``score``).
    """
    check_is_fitted(estimator)
    if target_columns(y) is not None:
        scores = raw_prediction(estimator, X, "score", offset, lengths=True)
        n_classes = scores.shape[1]
        targets = _check_targets_rows(y, scores).map_blocks(
            _checked_targets, n_classes, dtype=np.float64
        )
        weight = None
        if sample_weight is not None:
            weight = _check_rows(
                sample_weight, "sample_weight", scores, dtype=np.float64
            )
        return float(expected_accuracy(scores, targets, weight, da))
    predicted = predict(estimator, X, "predict", offset, lengths=True)
    y = _check_rows(y, "y", predicted[:, None])
    correct = predicted == y
    if sample_weight is None:
        return float(correct.mean().compute())
    weight = _check_rows(
        sample_weight, "sample_weight", predicted[:, None], dtype=np.float64
    )
    total, hits = dask.compute(weight.sum(), (weight * correct).sum())
    return float(hits / total)


def raw_prediction(estimator, X, method: str, offset=None, *, lengths: bool = False):
    """Return the scores of a Dask ``X`` (n_samples, n_classes), lazily."""
    check_is_fitted(estimator)
    X = _prediction_input(estimator, X, lengths or offset is not None)
    n_classes = estimator.classes_.size
    offset = _prediction_offset(offset, X, n_classes)
    dtype = np.result_type(X.dtype, estimator.coef_.dtype)
    return X.map_blocks(
        _scores_block,
        estimator.coef_,
        estimator.intercept_,
        *(() if offset is None else (offset,)),
        chunks=(X.chunks[0], (n_classes,)),
        dtype=dtype,
        meta=np.empty((0, 0), dtype=dtype),
    )


@contextmanager
def fit_data(estimator, X, y, sample_weight, offset=None) -> Iterator[FitInput]:
    """Persist the training data on the cluster; release it on leaving."""
    # A Dask collection's empty pandas/NumPy counterpart has its names.
    _check_feature_names(estimator, X._meta, reset=True)
    start = time.perf_counter()
    with DaskData(
        X,
        y,
        sample_weight,
        estimator.class_weight,
        estimator.fit_intercept,
        type(estimator).__name__,
        float(estimator.label_smoothing),
        offset,
    ) as data:
        estimator.n_features_in_ = data.shape[1]
        if estimator.verbose >= 1:
            print(data.describe(time.perf_counter() - start), flush=True)
        yield FitInput(data, X, y, data.classes, sample_weight)


_IN_MEMORY_ONLY = {
    "cross-validation": (
        "{name} does not fit Dask collections: its folds would each need their "
        "own pass over the cluster. Choose C on a sample that fits in memory "
        "(SoftmaxRegressionCV on X_sample.compute()), then fit "
        "SoftmaxRegression(C=...) on the Dask data."
    ),
    "inference": (
        "inference builds the Hessian in memory: pass NumPy data (a Dask "
        "collection's .compute(), or a sample that fits)."
    ),
}


def memory_input(estimator, X, y, sample_weight, purpose: str, offset=None) -> tuple:
    """Raise a TypeError: what runs only in memory takes no Dask collection."""
    raise TypeError(_IN_MEMORY_ONLY[purpose].format(name=type(estimator).__name__))
