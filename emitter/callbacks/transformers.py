"""Hugging Face Transformers callback (extra ``transformers``, which brings ``accelerate``, the
Trainer's own requirement)::

    Trainer(..., callbacks=[JoulestreamCallback(model="bert-base", dataset="glue/sst2")])

Samples are counted where the model sees them: a forward pre-hook on the model, put on when
training begins and taken off when it ends, adds up the first dimension of each training
forward pass's first tensor (``input_ids``, ``pixel_values``, ...); evaluation passes (the
model in eval mode) are not counted. An optimizer step reports the samples of its micro-batches,
the last partial batch with what it holds; tokens are the step's part of
``state.num_input_tokens_seen`` when the Trainer counts them (``include_num_input_tokens_seen``).

The epoch is the one begun last (``state.epoch`` at its start, a whole number unless the run
resumed mid-epoch), reported with every step, so a run stopped by ``max_steps`` mid-epoch ends at
the epoch it was in. Transformers calls no callback when ``Trainer.train()`` raises: such a run
ends as ``failed`` through the core (``callbacks.core``: at the next ``train()`` or at exit,
with the exception's text); to end it at once, use a started ``Tracker``
(``with tracker: trainer.train()``) and pass it to the callback.
"""

import math
import threading
from typing import Any

try:
    import transformers
except ImportError as exc:
    raise ImportError(
        "the Transformers callback needs transformers: pip install 'joulestream[transformers]'"
    ) from exc

from joulestream.callbacks.core import TrackerCallbackCore, number, share
from joulestream.tracker import Tracker


def batch_size(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    """The first dimension of a forward pass's first tensor (positional first), or None."""
    for value in (*args, *kwargs.values()):
        shape = getattr(value, "shape", None)
        if shape is not None and len(shape) > 0:
            return int(shape[0])
    return None


class JoulestreamCallback(transformers.TrainerCallback):  # type: ignore[misc]  # untyped here
    """Emits the run's events through a ``Tracker``; closes an interval at each epoch's end."""

    def __init__(self, tracker: Tracker | None = None, **tracker_args: object) -> None:
        self.core = TrackerCallbackCore(tracker, **tracker_args)
        self._loss: float | None = None
        self._accuracy: float | None = None
        self._epoch = 0
        self._samples = 0
        self._counted = False
        self._tokens_seen = 0
        self._hook: Any = None
        # DataParallel runs the replicas' forward passes, and so the hook, in threads.
        self._count_lock = threading.Lock()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:  # noqa: ANN401
        names = (
            "learning_rate",
            "per_device_train_batch_size",
            "gradient_accumulation_steps",
            "num_train_epochs",
            "max_steps",
        )
        hparams = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
        # The Trainer has worked out its plan by now: state.max_steps and num_train_epochs.
        self.core.train_start(
            f"transformers {transformers.__version__}",
            hparams,
            planned_steps=getattr(state, "max_steps", None),
            planned_epochs=getattr(state, "num_train_epochs", None),
        )
        self._samples, self._counted = 0, False
        self._tokens_seen = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        self._hook_model(kwargs.get("model"))

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:  # noqa: ANN401
        self._epoch = math.floor(state.epoch or 0)
        self.core.epoch_start(self._epoch)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:  # noqa: ANN401
        with self._count_lock:
            samples = self._samples if self._counted else None
            self._samples, self._counted = 0, False
        tokens_seen = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        tokens = tokens_seen - self._tokens_seen if tokens_seen > self._tokens_seen else None
        self._tokens_seen = tokens_seen
        self.core.batch_end(int(state.global_step), samples, None, tokens=tokens, epoch=self._epoch)

    def on_log(
        self,
        args: Any,  # noqa: ANN401
        state: Any,  # noqa: ANN401
        control: Any,  # noqa: ANN401
        logs: dict[str, object] | None = None,
        **kwargs: Any,  # noqa: ANN401
    ) -> None:
        if not self.core.measuring:
            return  # e.g. trainer.evaluate() outside train()
        logs = logs or {}
        loss = number(logs.get("loss"))
        accuracy = share(logs.get("eval_accuracy", logs.get("accuracy")))
        if loss is not None or accuracy is not None:
            self._loss = loss if loss is not None else self._loss
            self._accuracy = accuracy if accuracy is not None else self._accuracy
            self.core.tracker.log(loss=loss, accuracy=accuracy)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:  # noqa: ANN401
        self.core.epoch_end(self._epoch, self._loss, self._accuracy)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:  # noqa: ANN401
        self._unhook_model()
        self.core.train_end("completed")

    def _count(self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:  # noqa: ANN401
        if not getattr(module, "training", True):
            return
        size = batch_size(args, kwargs)
        if size is not None:
            with self._count_lock:
                self._samples += size
                self._counted = True

    def _hook_model(self, model: Any) -> None:  # noqa: ANN401  (a torch module)
        self._unhook_model()
        register = getattr(model, "register_forward_pre_hook", None)
        if register is not None:
            self._hook = register(self._count, with_kwargs=True)

    def _unhook_model(self) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
