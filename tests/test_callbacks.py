"""The callbacks' shared core, and each adapter with stand-in framework modules."""

import importlib
import sys
import types

import pytest

from joulestream.callbacks.core import TrackerCallbackCore, number, share
from joulestream.events import Measurement, RunFinished, RunStarted
from joulestream.tracker import Tracker
from tests.fakes import ListProducer, fake_meters


def tracker_and_producer() -> tuple[Tracker, ListProducer]:
    producer = ListProducer()
    tracker = Tracker(
        model="m",
        region="FR",
        user_id="u",
        run_id="r",
        interval_s=3600,
        producer=producer,
        meters=fake_meters(),
    )
    return tracker, producer


def epochs(producer: ListProducer) -> list[tuple[int | None, int | None, float | None]]:
    return [(e.epoch, e.samples, e.loss) for e in producer.events if isinstance(e, Measurement)]


def test_core_closes_one_interval_per_epoch():
    tracker, producer = tracker_and_producer()
    core = TrackerCallbackCore(tracker)
    core.train_start("torch 2.5")
    for epoch in range(2):
        core.epoch_start(epoch)
        core.batch_end(step=epoch, samples=32, loss=1.0 / (epoch + 1))
        core.epoch_end(epoch, loss=0.5, accuracy=0.9)
    core.train_end()
    assert epochs(producer) == [(0, 32, 0.5), (1, 32, 0.5), (1, None, 0.5)]
    assert isinstance(producer.events[-1], RunFinished)


def test_metric_conversion():
    class Tensor:
        def item(self) -> float:
            return 0.25

    assert (number(Tensor()), number("x"), number(float("nan")), number(None)) == (
        0.25,
        None,
        None,
        None,
    )
    assert (share(0.5), share(1.5)) == (0.5, None)


def stand_in(monkeypatch, name: str, **attrs: object) -> None:
    """Install a module (and its parents) that holds only what the adapter touches."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        module = types.ModuleType(".".join(parts[:i]))
        monkeypatch.setitem(sys.modules, module.__name__, module)
        if i > 1:
            setattr(sys.modules[".".join(parts[: i - 1])], parts[i - 1], module)
    for key, value in attrs.items():
        setattr(sys.modules[name], key, value)


def adapter(monkeypatch, module: str):
    monkeypatch.delitem(sys.modules, f"joulestream.callbacks.{module}", raising=False)
    return importlib.import_module(f"joulestream.callbacks.{module}")


def test_lightning_adapter(monkeypatch):
    class Callback:
        pass

    stand_in(monkeypatch, "lightning.pytorch", Callback=Callback, __version__="2.4.0")
    lightning = adapter(monkeypatch, "lightning")
    tracker, producer = tracker_and_producer()
    callback = lightning.JoulestreamCallback(tracker)
    trainer = types.SimpleNamespace(current_epoch=0, global_step=0, callback_metrics={})
    module = types.SimpleNamespace(hparams={"lr": 0.1})
    batch = (types.SimpleNamespace(shape=(16, 3)), None)
    callback.on_train_start(trainer, module)
    callback.on_train_epoch_start(trainer, module)
    trainer.global_step = 1
    callback.on_train_batch_end(trainer, module, {"loss": 0.7}, batch, 0)
    trainer.callback_metrics = {"train_loss": 0.6, "train_acc": 0.8}
    callback.on_train_epoch_end(trainer, module)
    callback.on_train_end(trainer, module)
    assert epochs(producer) == [(0, 16, 0.6), (0, None, 0.6)]
    assert producer.events[1].accuracy == 0.8
    assert producer.events[-1].status == "completed"


def test_lightning_adapter_makes_its_tracker(monkeypatch):
    stand_in(monkeypatch, "lightning.pytorch", Callback=object, __version__="2.4.0")
    lightning = adapter(monkeypatch, "lightning")
    producer = ListProducer()
    callback = lightning.JoulestreamCallback(
        model="m", region="FR", user_id="u", producer=producer, meters=fake_meters()
    )
    trainer = types.SimpleNamespace(current_epoch=0, global_step=0, callback_metrics={})
    callback.on_train_start(trainer, types.SimpleNamespace(hparams={"lr": 0.1}))
    callback.on_exception(trainer, None, RuntimeError("boom"))
    started, finished = producer.events[0], producer.events[-1]
    assert isinstance(started, RunStarted)
    assert (started.framework, dict(started.hyperparameters)) == ("lightning 2.4.0", {"lr": "0.1"})
    assert (finished.status, finished.reason) == ("failed", "RuntimeError: boom")


def test_transformers_adapter(monkeypatch):
    stand_in(monkeypatch, "transformers", TrainerCallback=object, __version__="4.46.0")
    hf = adapter(monkeypatch, "transformers")
    tracker, producer = tracker_and_producer()
    callback = hf.JoulestreamCallback(tracker)
    args = types.SimpleNamespace(
        learning_rate=1e-3,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=2,
        world_size=1,
        num_train_epochs=1,
    )
    state = types.SimpleNamespace(epoch=0.0, global_step=0)
    callback.on_train_begin(args, state, None)
    callback.on_epoch_begin(args, state, None)
    state.global_step, state.epoch = 1, 0.5
    callback.on_step_end(args, state, None)
    callback.on_log(args, state, None, logs={"loss": 0.4})
    state.epoch = 1.0
    callback.on_epoch_end(args, state, None)
    callback.on_train_end(args, state, None)
    assert epochs(producer) == [(0, 16, 0.4), (0, None, 0.4)]


def test_keras_adapter(monkeypatch):
    stand_in(monkeypatch, "keras.callbacks", Callback=object)
    setattr(sys.modules["keras"], "__version__", "3.15.1")  # noqa: B010  (a module attribute mypy cannot know)
    keras_cb = adapter(monkeypatch, "keras")
    tracker, producer = tracker_and_producer()
    callback = keras_cb.JoulestreamCallback(tracker, batch_size=32)
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    callback.on_train_batch_end(0, {"loss": 0.9})
    callback.on_epoch_end(0, {"loss": 0.8, "accuracy": 0.7})
    callback.on_train_end()
    assert epochs(producer) == [(0, 32, 0.8), (0, None, 0.8)]


def test_adapter_without_its_framework_says_which_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", None)
    with pytest.raises(ImportError, match=r"joulestream\[keras\]"):
        adapter(monkeypatch, "keras")
