"""Keras callback (extra ``keras``)::

    model.fit(x, y, batch_size=32, callbacks=[JoulestreamCallback(model="mlp", batch_size=32)])

Keras does not tell a callback the batch size, so samples are counted only when it is given
(``batch_size``). A ``KeyboardInterrupt`` or error inside ``fit`` skips ``on_train_end``: wrap
``fit`` in the tracker (``with tracker:``) to record those runs as cancelled or failed.
"""

from typing import Any

try:
    import keras
except ImportError as exc:
    raise ImportError("the Keras callback needs keras: pip install 'joulestream[keras]'") from exc

from joulestream.callbacks.core import TrackerCallbackCore, number, share
from joulestream.tracker import Tracker


class JoulestreamCallback(keras.callbacks.Callback):  # type: ignore[misc]  # untyped here
    """Emits the run's events through a ``Tracker``; closes an interval at each epoch's end."""

    def __init__(
        self, tracker: Tracker | None = None, batch_size: int | None = None, **tracker_args: object
    ) -> None:
        super().__init__()
        self.core = TrackerCallbackCore(tracker, **tracker_args)
        self.batch_size = batch_size
        self._step = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        params = dict(getattr(self, "params", None) or {})
        self.core.train_start(f"keras {keras.__version__}", params)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.core.epoch_start(epoch)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._step += 1
        self.core.batch_end(self._step, self.batch_size, number((logs or {}).get("loss")))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        self.core.epoch_end(epoch, number(logs.get("loss")), share(logs.get("accuracy")))

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.core.train_end("completed")
