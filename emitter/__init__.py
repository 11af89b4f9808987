"""joulestream: measure a training run's energy and CO2e, and send it as events to Kafka.

``from joulestream import Tracker`` is the trainer's entry point. This package is emitter/ of the
repository; ``joulestream.schemas``, ``joulestream.flink_jobs`` and ``joulestream.dash_app`` are
its other parts, installed with it. The names below are imported on first use (PEP 562), so that
importing one of those parts (the Flink job imports ``joulestream.schemas``) loads nothing of the
tracker or its dependencies.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from joulestream.tracker import Tracker
    from joulestream.windows import WindowError, WindowMeasurement

__all__ = ["Tracker", "WindowError", "WindowMeasurement"]

_LAZY = {
    "Tracker": "joulestream.tracker",
    "WindowError": "joulestream.windows",
    "WindowMeasurement": "joulestream.windows",
}


def __getattr__(name: str) -> Any:  # noqa: ANN401 (whatever the named attribute is)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
