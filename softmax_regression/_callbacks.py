"""scikit-learn's callback API (``sklearn.callback``, 1.9+) for our fits.

A fit is a task; each solver iteration is a subtask of it, so a
:class:`sklearn.callback.ProgressBar` or
:class:`sklearn.callback.ScoringMonitor` set with ``set_callbacks`` follows
every solver, and a callback's ``on_fit_task_end`` returning True stops the
solver after that iteration. :class:`SoftmaxRegressionCV` nests its tasks:
fit, then one task per (fold, ``l1_ratio``) path, one per ``C`` on it, one per
iteration; then the refit. With scikit-learn before 1.9 the API is absent and
``set_callbacks`` does not exist; fits run as before.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9

    class CallbackSupportMixin:  # type: ignore[no-redef]
        """Stand-in without callbacks: the root task of a fit does nothing."""

        def _init_callback_context(self, **kwargs):
            return _NO_TASK


class _NoTask:
    """A task that calls no hook (scikit-learn < 1.9)."""

    def subcontext(self, **kwargs) -> _NoTask:
        return self

    def call_on_fit_task_begin(self, **kwargs) -> _NoTask:
        return self

    def call_on_fit_task_end(self, **kwargs) -> bool:
        return False


_NO_TASK = _NoTask()


def has_callbacks(estimator) -> bool:
    """Whether callbacks are set on ``estimator`` (or propagated to it)."""
    return bool(getattr(estimator, "_skl_callbacks", None))


class IterationTasks:
    """One callback task per solver iteration, as children of ``context``.

    An instance is the ``callback`` of a solver driver: it is called with each
    accepted iterate (flat coefficients), ends that iteration's task, begins the
    next, and returns True if a callback asked to stop. As in
    ``LogisticRegression``, the task begun after the last iteration never runs:
    :meth:`close` ends it without attributes, so that every begun task ends.

    Parameters
    ----------
    context : sklearn.callback.CallbackContext
        The parent task (the fit, or one ``C`` of a path).
    estimator : estimator
        The estimator whose fit this is, passed to the hooks.
    attributes : callable
        ``flat coef -> dict`` of the fitted attributes a copy of ``estimator``
        needs to predict as if the fit had stopped there.
    coef0 : ndarray
        The starting point, the state at the beginning of the first iteration.
    name : str
        The task name of the iterations, e.g. ``"lbfgs-iter"``.
    **hook_data
        ``X``, ``y`` and ``metadata`` for the hooks.
    """

    def __init__(
        self,
        context,
        estimator,
        attributes: Callable[[np.ndarray], dict],
        coef0: np.ndarray,
        name: str,
        **hook_data,
    ) -> None:
        self._context = context
        self._estimator = estimator
        self._attributes = attributes
        self._name = name
        self._hook_data = hook_data
        self._task = self._begin(coef0)

    def _begin(self, coef: np.ndarray):
        task = self._context.subcontext(task_name=self._name)
        task.call_on_fit_task_begin(
            estimator=self._estimator,
            reconstruction_attributes=self._lazy_attributes(coef),
            **self._hook_data,
        )
        return task

    def _lazy_attributes(self, coef: np.ndarray) -> Callable[[], dict]:
        # Built only if a hook asks for the fitted estimator.
        coef = np.array(coef, dtype=np.float64)
        return lambda: self._attributes(coef)

    def __call__(self, coef: np.ndarray) -> bool:
        stop = self._task.call_on_fit_task_end(
            estimator=self._estimator,
            reconstruction_attributes=self._lazy_attributes(coef),
            **self._hook_data,
        )
        self._task = self._begin(coef)
        return bool(stop)

    def close(self) -> None:
        """End the task begun after the last iteration, which never ran."""
        self._task.call_on_fit_task_end(estimator=self._estimator)
