"""What every framework callback does, in framework terms that are plain numbers.

The adapter translates its framework's hooks into these calls. At an epoch's end the tracker
closes its interval at once (``Tracker.end_epoch``), so the energy the job adds up per epoch is
exactly that epoch's.
"""

from collections.abc import Callable, Mapping

from joulestream.tracker import Tracker


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

    def train_start(
        self, framework: str, hyperparameters: Mapping[str, object] | None = None
    ) -> None:
        """Training begins: start the tracker unless it was started by the caller."""
        if self._tracker is None:
            args = dict(self._tracker_args)
            args.setdefault("framework", framework)
            if hyperparameters and "hyperparameters" not in args:
                args["hyperparameters"] = {str(k): str(v) for k, v in hyperparameters.items()}
            self._tracker = self._make(**args)
        if not self._tracker.started:
            self._tracker.start()
            self._started_here = True

    def epoch_start(self, epoch: int) -> None:
        self.tracker.log(epoch=epoch)

    def batch_end(
        self,
        step: int | None,
        samples: int | None,
        loss: float | None,
        tokens: int | None = None,
    ) -> None:
        self.tracker.log(step=step, samples=samples, loss=loss, tokens=tokens)

    def epoch_end(
        self, epoch: int, loss: float | None = None, accuracy: float | None = None
    ) -> None:
        self.tracker.end_epoch(epoch, loss=loss, accuracy=accuracy)

    def train_end(self, status: str = "completed", reason: str | None = None) -> None:
        """Training is over: stop the tracker if this callback started it."""
        if self._tracker is not None and self._started_here:
            self._tracker.stop(status, reason)
            self._started_here = False


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
