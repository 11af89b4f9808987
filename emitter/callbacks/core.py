"""What every framework callback does, in framework terms that are plain numbers.

The adapter translates its framework's hooks into these calls. At an epoch's end the tracker
closes its interval at once (``Tracker.end_epoch``), so the energy the job adds up per epoch is
exactly that epoch's. Each batch reports the epoch it belongs to, so a run stopped mid-epoch
(``max_steps``) ends at the epoch it was in.

A run this core started always ends with ``run_finished``: ``completed`` at training's end hook,
``failed`` (or ``cancelled`` for ``KeyboardInterrupt``) with the exception's text where the
framework reports the error (``failed``), and otherwise:

- a new training start on the same callback first ends the previous run as ``failed``
  (its training never reached the end hook);
- at interpreter exit, a run still open ends as ``failed`` with the text of the exception that
  ended the program (``sys.last_value``, which Python sets for an uncaught exception before
  ``atexit`` handlers run), or with ``PROCESS_EXITED``.
"""

import atexit
import math
import re
import sys
from collections.abc import Callable, Mapping

from joulestream.limits import MAX_EPOCH
from joulestream.tracker import Tracker

ENDED_WITHOUT_END_HOOK = "training ended without reaching its end (an error outside its hooks)"
PROCESS_EXITED = "the process exited while training"
MAX_PLAN = MAX_EPOCH
"""The largest plan passed on (the contract's epochs are an int; steps fit far more)."""


_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def reason(exc: BaseException) -> str:
    """An exception as ``run_finished.reason``: its type and text (the tracker cuts it),
    without terminal colour codes (Keras puts some in its messages)."""
    return _TERMINAL_CODES.sub("", f"{type(exc).__name__}: {exc}")


def count(value: object) -> int | None:
    """A framework's planned steps or epochs as a count of at least one, else None: -1 or
    None mean "no limit", a float epoch count is whole or rounded up (Transformers trains
    ``ceil(num_train_epochs)`` epochs, the last one cut by ``max_steps``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 1 or value > MAX_PLAN:
        return None
    return math.ceil(value)


def status_of(exc: BaseException) -> str:
    return "cancelled" if isinstance(exc, KeyboardInterrupt) else "failed"


class TrackerCallbackCore:
    """Drives one ``Tracker`` from training hooks; starts and stops it when it owns it."""

    def __init__(self, tracker: Tracker | None = None, **tracker_args: object) -> None:
        """Either a ``tracker`` (started or not) or the arguments to make one."""
        if tracker is None and "model" not in tracker_args:
            raise ValueError("give a tracker, or the arguments of one (model=... at least)")
        self._tracker = tracker
        self._tracker_args = tracker_args
        self._started_here = False
        self._make: Callable[..., Tracker] = Tracker

    @property
    def tracker(self) -> Tracker:
        if self._tracker is None:
            raise RuntimeError("training has not started")
        return self._tracker

    @property
    def running(self) -> bool:
        """Whether a run this core started is still open."""
        return self._started_here

    @property
    def measuring(self) -> bool:
        """Whether the tracker (made here or given) is measuring a run now."""
        return self._tracker is not None and self._tracker.running

    def train_start(
        self,
        framework: str,
        hyperparameters: Mapping[str, object] | None = None,
        planned_steps: object = None,
        planned_epochs: object = None,
    ) -> None:
        """Training begins: start the tracker unless it was started by the caller. The
        framework's plan (steps and epochs in all, where it knows them) goes into run_started
        unless the tracker's arguments say otherwise; a value that is no count of at least one
        (Lightning's -1 for "no limit", a fraction of an epoch) is left out."""
        if self._started_here:
            self.train_end("failed", ENDED_WITHOUT_END_HOOK)
        plan = {"planned_steps": count(planned_steps), "planned_epochs": count(planned_epochs)}
        if self._tracker is None:
            args = dict(self._tracker_args)
            args.setdefault("framework", framework)
            if hyperparameters and "hyperparameters" not in args:
                args["hyperparameters"] = {str(k): str(v) for k, v in hyperparameters.items()}
            self._tracker = self._make(**args)
        if not self._tracker.running:
            try:
                self._tracker.plan(**plan)
            except ValueError:  # a plan the contract refuses: the run goes on without one
                self._tracker.plan()
        if not self._tracker.running:
            self._tracker.start()
            self._started_here = True
            # After start(): the tracker's own producer registered its exit handler then, and
            # handlers run last-registered first, so this run ends before that producer closes.
            atexit.register(self._at_exit)

    def epoch_start(self, epoch: int) -> None:
        self.tracker.log(epoch=epoch)

    def batch_end(
        self,
        step: int | None,
        samples: int | None,
        loss: float | None,
        tokens: int | None = None,
        epoch: int | None = None,
    ) -> None:
        """A batch (or optimizer step) is done: ``samples`` and ``tokens`` it processed, and
        the ``epoch`` it belongs to."""
        self.tracker.log(step=step, samples=samples, loss=loss, tokens=tokens, epoch=epoch)

    def epoch_end(
        self, epoch: int, loss: float | None = None, accuracy: float | None = None
    ) -> None:
        self.tracker.end_epoch(epoch, loss=loss, accuracy=accuracy)

    def train_end(self, status: str = "completed", reason: str | None = None) -> None:
        """Training is over: stop the tracker if this callback started it."""
        if self._tracker is not None and self._started_here:
            self._started_here = False
            atexit.unregister(self._at_exit)
            self._tracker.stop(status, reason)

    def failed(self, exc: BaseException) -> None:
        """Training raised ``exc``: end the run as failed (cancelled for Ctrl-C) with its text."""
        self.train_end(status_of(exc), reason(exc))

    def _at_exit(self) -> None:
        last = getattr(sys, "last_value", None)
        if isinstance(last, BaseException):
            self.failed(last)
        else:
            self.train_end("failed", PROCESS_EXITED)


def number(value: object) -> float | None:
    """A metric as a float (a 0-d tensor, a NumPy scalar, a number), or None."""
    if value is None:
        return None
    item = getattr(value, "item", None)
    try:
        result = float(item() if callable(item) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return result if result == result and abs(result) != float("inf") else None


def share(value: object) -> float | None:
    """A metric that must be a share in [0, 1] (accuracy), or None."""
    result = number(value)
    return result if result is not None and 0 <= result <= 1 else None
