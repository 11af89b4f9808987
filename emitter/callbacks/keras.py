"""Keras 3 callback (extra ``keras``), on any backend (JAX, TensorFlow, PyTorch)::

    model.fit(x, y, batch_size=32, callbacks=[JoulestreamCallback(model="mlp")])

Samples are what Keras itself counted: a compiled model's loss tracker (a ``Mean`` whose
``count`` grows by each batch's size, the last partial batch included, and is reset at each
epoch's start). On JAX it is read from the step's state without syncing the model's variables.
The count is a float32, exact up to 2**24 (16,777,216) samples per epoch. A model whose own
``train_step`` does not update the loss tracker reports ``batch_size`` per batch when it is
given (the last partial batch then counts whole), else no samples.

An error inside a training step (the step's data, forward, loss, backward, optimizer) ends the
run as ``failed`` with its text before ``fit`` re-raises it (``cancelled`` for Ctrl-C): Keras
calls no callback then, so the callback wraps the model's ``train_function`` for the length of
``fit``. Errors elsewhere in ``fit`` are caught by the core (``callbacks.core``).
"""

from collections.abc import Callable
from typing import Any

try:
    import keras
except ImportError as exc:
    raise ImportError("the Keras callback needs keras: pip install 'joulestream[keras]'") from exc

from joulestream.callbacks.core import TrackerCallbackCore, number, share
from joulestream.tracker import Tracker


def samples_seen(model: Any) -> float | None:  # noqa: ANN401  (a keras.Model)
    """The samples a compiled model's loss tracker has counted this epoch, or None."""
    count = getattr(getattr(model, "_loss_tracker", None), "count", None)
    if count is None:
        return None
    # JAX keeps the step's state outside the model's variables (purged meanwhile) until
    # fit() syncs them at the epoch's end; the state's metric values are in the same order.
    state = getattr(model, "_jax_state", None)
    if state:
        values = state.get("metrics_variables") or ()
        for variable, value in zip(model.metrics_variables, values, strict=False):
            if variable is count:
                return float(value)
        return None
    return float(keras.ops.convert_to_numpy(count.value))


class JoulestreamCallback(keras.callbacks.Callback):  # type: ignore[misc]  # untyped here
    """Emits the run's events through a ``Tracker``; closes an interval at each epoch's end."""

    def __init__(
        self, tracker: Tracker | None = None, batch_size: int | None = None, **tracker_args: object
    ) -> None:
        """``batch_size``: samples per batch, used only where the model does not count them
        (module docstring)."""
        super().__init__()
        self.core = TrackerCallbackCore(tracker, **tracker_args)
        self.batch_size = batch_size
        self._epoch = 0
        self._steps_before_epoch = 0
        self._last_batch = -1
        self._seen = 0.0
        self._counted = True
        self._train_function: Callable[..., Any] | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        params = dict(getattr(self, "params", None) or {})
        # Keras' params: ``epochs`` and ``steps`` (per epoch; None for a dataset of unknown
        # length, and then no plan of steps).
        epochs, steps = params.get("epochs"), params.get("steps")
        total_steps = steps * epochs if isinstance(steps, int) and isinstance(epochs, int) else None
        self.core.train_start(
            f"keras {keras.__version__}", params, planned_steps=total_steps, planned_epochs=epochs
        )
        self._steps_before_epoch, self._last_batch, self._counted = 0, -1, True
        self._guard_train_function()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch, self._seen = epoch, 0.0
        self._steps_before_epoch += self._last_batch + 1
        self._last_batch = -1
        self.core.epoch_start(epoch)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # ``batch`` is the last step's index in the epoch: several steps per call with
        # steps_per_execution > 1.
        self._last_batch = batch
        self.core.batch_end(
            self._steps_before_epoch + batch + 1,
            self._samples(),
            number((logs or {}).get("loss")),
            epoch=self._epoch,
        )

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        self.core.epoch_end(epoch, number(logs.get("loss")), share(logs.get("accuracy")))

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._restore_train_function()
        self.core.train_end("completed")

    def _samples(self) -> int | None:
        seen = samples_seen(getattr(self, "model", None)) if self._counted else None
        if seen is None or seen <= self._seen:
            # The model's train_step does not count (its own loss tracking): say so once.
            self._counted = False
            return self.batch_size
        samples, self._seen = round(seen - self._seen), seen
        return samples

    def _guard_train_function(self) -> None:
        model = getattr(self, "model", None)
        function = getattr(model, "train_function", None)
        if model is None or function is None or self._train_function is not None:
            return
        self._train_function = function

        def guarded(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401  (Keras's own)
            try:
                return function(*args, **kwargs)
            except BaseException as exc:
                self._restore_train_function()
                self.core.failed(exc)
                raise

        model.train_function = guarded

    def _restore_train_function(self) -> None:
        if self._train_function is not None:
            self.model.train_function = self._train_function
            self._train_function = None
