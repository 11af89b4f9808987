"""Hugging Face Transformers callback (extra ``transformers``)::

    Trainer(..., callbacks=[JoulestreamCallback(model="bert-base", dataset="glue/sst2")])

Samples per optimizer step: ``per_device_train_batch_size * gradient_accumulation_steps *
world_size``. ``state.epoch`` is fractional; the epoch that just ended is ``round(epoch) - 1``.
"""

from typing import Any

try:
    import transformers
except ImportError as exc:
    raise ImportError(
        "the Transformers callback needs transformers: pip install 'joulestream[transformers]'"
    ) from exc

from joulestream.callbacks.core import TrackerCallbackCore, number, share
from joulestream.tracker import Tracker


def samples_per_step(args: Any) -> int | None:  # noqa: ANN401  (TrainingArguments)
    try:
        return int(
            args.per_device_train_batch_size
            * args.gradient_accumulation_steps
            * max(1, int(getattr(args, "world_size", 1)))
        )
    except (AttributeError, TypeError, ValueError):
        return None


class JoulestreamCallback(transformers.TrainerCallback):  # type: ignore[misc]  # untyped here
    """Emits the run's events through a ``Tracker``; closes an interval at each epoch's end."""

    def __init__(self, tracker: Tracker | None = None, **tracker_args: object) -> None:
        self.core = TrackerCallbackCore(tracker, **tracker_args)
        self._loss: float | None = None
        self._accuracy: float | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:  # noqa: ANN401
        hparams = {
            "learning_rate": args.learning_rate,
            "per_device_train_batch_size": args.per_device_train_batch_size,
            "num_train_epochs": args.num_train_epochs,
        }
        self.core.train_start(f"transformers {transformers.__version__}", hparams)

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:  # noqa: ANN401
        self.core.epoch_start(round(state.epoch or 0))

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:  # noqa: ANN401
        self.core.batch_end(int(state.global_step), samples_per_step(args), None)

    def on_log(
        self,
        args: Any,  # noqa: ANN401
        state: Any,  # noqa: ANN401
        control: Any,  # noqa: ANN401
        logs: dict[str, object] | None = None,
        **kwargs: Any,  # noqa: ANN401
    ) -> None:
        logs = logs or {}
        loss = number(logs.get("loss"))
        accuracy = share(logs.get("eval_accuracy", logs.get("accuracy")))
        if loss is not None or accuracy is not None:
            self._loss = loss if loss is not None else self._loss
            self._accuracy = accuracy if accuracy is not None else self._accuracy
            self.core.tracker.log(loss=loss, accuracy=accuracy)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:  # noqa: ANN401
        self.core.epoch_end(max(0, round(state.epoch) - 1), self._loss, self._accuracy)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:  # noqa: ANN401
        self.core.train_end("completed")
