"""PyTorch Lightning callback (extra ``lightning``)::

    trainer = Trainer(callbacks=[JoulestreamCallback(model="resnet50", dataset="cifar10")])

Samples per batch are the batch's size as Lightning itself infers it for logging
(``extract_batch_size``: the first dimension of the batch's first tensor, so the last partial
batch counts what it holds); the loss is the training step's, the loss and accuracy at an epoch's
end from ``trainer.callback_metrics`` (``train_loss``/``loss``, ``train_acc``/``acc``/``accuracy``).
Each batch reports ``trainer.current_epoch``, the epoch it belongs to (Lightning advances it only
after the epoch's end hooks), so a run stopped by ``max_steps`` ends at the epoch it was in. An
error in ``fit`` (``on_exception``) ends the run as ``failed`` with the exception's text,
``cancelled`` for Ctrl-C.
"""

from typing import Any

try:
    import lightning.pytorch as pl
    from lightning.pytorch.utilities.data import extract_batch_size
except ImportError:  # the older package name
    try:
        import pytorch_lightning as pl
        from pytorch_lightning.utilities.data import extract_batch_size
    except ImportError as exc:
        raise ImportError(
            "the Lightning callback needs lightning: pip install 'joulestream[lightning]'"
        ) from exc

from joulestream.callbacks.core import TrackerCallbackCore, count, number, share
from joulestream.tracker import Tracker

LOSS_KEYS = ("train_loss", "loss")
ACCURACY_KEYS = ("train_acc", "acc", "accuracy", "train_accuracy")


def _metric(metrics: Any, keys: tuple[str, ...]) -> object:  # noqa: ANN401  (tensors)
    return next((metrics[k] for k in keys if k in metrics), None)


def _batch_size(batch: Any) -> int | None:  # noqa: ANN401  (any collate output)
    try:
        return int(extract_batch_size(batch))
    except Exception:  # a batch Lightning cannot size (it raises for those): not counted
        return None


class JoulestreamCallback(pl.Callback):  # type: ignore[misc]  # Lightning is untyped here
    """Emits the run's events through a ``Tracker``; closes an interval at each epoch's end."""

    def __init__(self, tracker: Tracker | None = None, **tracker_args: object) -> None:
        super().__init__()
        self.core = TrackerCallbackCore(tracker, **tracker_args)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:  # noqa: ANN401
        hparams = dict(getattr(pl_module, "hparams", {}) or {})
        # -1 or None means no limit (the core passes on counts only). With max_epochs alone,
        # Lightning's estimated_stepping_batches is the steps it will take.
        steps = getattr(trainer, "max_steps", None)
        if count(steps) is None:
            try:
                steps = trainer.estimated_stepping_batches
            except Exception:  # a plan is optional: training goes on without one
                steps = None
        self.core.train_start(
            f"lightning {pl.__version__}",
            hparams,
            planned_steps=steps,
            planned_epochs=getattr(trainer, "max_epochs", None),
        )

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:  # noqa: ANN401
        self.core.epoch_start(int(trainer.current_epoch))

    def on_train_batch_end(
        self,
        trainer: Any,  # noqa: ANN401
        pl_module: Any,  # noqa: ANN401
        outputs: Any,  # noqa: ANN401
        batch: Any,  # noqa: ANN401
        batch_idx: int,
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        self.core.batch_end(
            int(trainer.global_step),
            _batch_size(batch),
            number(loss),
            epoch=int(trainer.current_epoch),
        )

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:  # noqa: ANN401
        metrics = trainer.callback_metrics
        self.core.epoch_end(
            int(trainer.current_epoch),
            loss=number(_metric(metrics, LOSS_KEYS)),
            accuracy=share(_metric(metrics, ACCURACY_KEYS)),
        )

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:  # noqa: ANN401
        self.core.train_end("completed")

    def on_exception(
        self,
        trainer: Any,  # noqa: ANN401
        pl_module: Any,  # noqa: ANN401
        exception: BaseException,
    ) -> None:
        self.core.failed(exception)
