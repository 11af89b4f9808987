"""The callbacks' shared core, and each adapter with stand-in framework modules."""

import atexit
import importlib
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

from joulestream.callbacks import core as core_module
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


def test_reason_is_the_exception_type_and_text_without_terminal_codes():
    assert core_module.reason(RuntimeError("\x1b[1mboom\x1b[0m at step 3")) == (
        "RuntimeError: boom at step 3"
    )


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
    """The adapter imported afresh over the stand-ins; the module before (the real one, or
    none) is back after the test."""
    name = f"joulestream.callbacks.{module}"
    monkeypatch.setitem(sys.modules, name, sys.modules.get(name))  # remembers what was there
    del sys.modules[name]
    return importlib.import_module(name)


def lightning_stand_in(monkeypatch) -> Any:
    def extract_batch_size(batch):
        # Lightning's own: the first dimension of the first tensor found.
        first = batch[0] if isinstance(batch, tuple) else batch
        if first is None:
            raise ValueError("We could not infer the batch_size from the batch")
        return first.shape[0]

    stand_in(monkeypatch, "lightning.pytorch.utilities.data", extract_batch_size=extract_batch_size)
    pl = sys.modules["lightning.pytorch"]
    pl.Callback, pl.__version__ = object, "2.6.6"  # type: ignore[attr-defined]
    return adapter(monkeypatch, "lightning")


def test_lightning_adapter(monkeypatch):
    """Each batch reports the size Lightning infers (the last partial batch with what it
    holds) and its epoch; an epoch's end takes the callback metrics."""
    lightning = lightning_stand_in(monkeypatch)
    tracker, producer = tracker_and_producer()
    callback = lightning.JoulestreamCallback(tracker)
    trainer = types.SimpleNamespace(current_epoch=0, global_step=0, callback_metrics={})
    module = types.SimpleNamespace(hparams={"lr": 0.1})
    callback.on_train_start(trainer, module)
    callback.on_train_epoch_start(trainer, module)
    for step, size in ((1, 16), (2, 16), (3, 3)):
        trainer.global_step = step
        batch = (types.SimpleNamespace(shape=(size, 3)), None)
        callback.on_train_batch_end(trainer, module, {"loss": 0.7}, batch, step - 1)
    trainer.callback_metrics = {"train_loss": 0.6, "train_acc": 0.8}
    callback.on_train_epoch_end(trainer, module)
    callback.on_train_end(trainer, module)
    assert epochs(producer) == [(0, 35, 0.6), (0, None, 0.6)]
    assert producer.events[1].accuracy == 0.8
    assert producer.events[-1].status == "completed"


def test_lightning_batch_it_cannot_size_counts_no_samples(monkeypatch):
    lightning = lightning_stand_in(monkeypatch)
    tracker, producer = tracker_and_producer()
    callback = lightning.JoulestreamCallback(tracker)
    trainer = types.SimpleNamespace(current_epoch=0, global_step=1, callback_metrics={})
    callback.on_train_start(trainer, None)
    callback.on_train_batch_end(trainer, None, None, (None,), 0)
    callback.on_train_end(trainer, None)
    assert epochs(producer) == [(0, None, None)]


def test_lightning_stopped_mid_epoch_reports_the_epoch_it_was_in(monkeypatch):
    """max_steps reached in epoch 1: the last measurement says epoch 1."""
    lightning = lightning_stand_in(monkeypatch)
    tracker, producer = tracker_and_producer()
    callback = lightning.JoulestreamCallback(tracker)
    trainer = types.SimpleNamespace(current_epoch=0, global_step=0, callback_metrics={})
    batch = (types.SimpleNamespace(shape=(8, 3)),)
    callback.on_train_start(trainer, None)
    callback.on_train_epoch_start(trainer, None)
    trainer.global_step = 1
    callback.on_train_batch_end(trainer, None, 0.5, batch, 0)
    callback.on_train_epoch_end(trainer, None)
    trainer.current_epoch = 1  # Lightning advances it after the epoch's end hooks
    callback.on_train_epoch_start(trainer, None)
    trainer.global_step = 2
    callback.on_train_batch_end(trainer, None, 0.4, batch, 0)
    callback.on_train_end(trainer, None)  # max_steps=2: no epoch end for epoch 1
    assert epochs(producer) == [(0, 8, 0.5), (1, 8, 0.4)]


def test_lightning_adapter_makes_its_tracker(monkeypatch):
    lightning = lightning_stand_in(monkeypatch)
    producer = ListProducer()
    callback = lightning.JoulestreamCallback(
        model="m", region="FR", user_id="u", producer=producer, meters=fake_meters()
    )
    trainer = types.SimpleNamespace(current_epoch=0, global_step=0, callback_metrics={})
    callback.on_train_start(trainer, types.SimpleNamespace(hparams={"lr": 0.1}))
    callback.on_exception(trainer, None, RuntimeError("boom"))
    started, finished = producer.events[0], producer.events[-1]
    assert isinstance(started, RunStarted)
    assert (started.framework, dict(started.hyperparameters)) == ("lightning 2.6.6", {"lr": "0.1"})
    assert (finished.status, finished.reason) == ("failed", "RuntimeError: boom")
    # A stand-in trainer with no plan at all: none is sent.
    assert (started.planned_steps, started.planned_epochs) == (None, None)


def test_lightning_plan_from_max_steps_or_the_estimated_steps(monkeypatch):
    """max_steps when it is set; with -1 (no limit) the steps Lightning estimates from
    max_epochs; max_epochs as the epochs; a trainer with neither limit sends no plan."""
    lightning = lightning_stand_in(monkeypatch)
    plans = []
    for max_steps, estimated, max_epochs in ((500, 90, 3), (-1, 90, 3), (-1, float("inf"), -1)):
        producer = ListProducer()
        callback = lightning.JoulestreamCallback(
            model="m", region="FR", user_id="u", producer=producer, meters=fake_meters()
        )
        trainer = types.SimpleNamespace(
            current_epoch=0, global_step=0, callback_metrics={}, max_steps=max_steps,
            estimated_stepping_batches=estimated, max_epochs=max_epochs,
        )  # fmt: skip
        callback.on_train_start(trainer, types.SimpleNamespace(hparams={}))
        callback.on_train_end(trainer, None)
        plans.append((producer.events[0].planned_steps, producer.events[0].planned_epochs))
    assert plans == [(500, 3), (90, 3), (None, None)]


def test_a_plan_a_person_gives_wins_over_the_frameworks(monkeypatch):
    """Tracker arguments planned_steps/planned_epochs win; the framework fills the rest; a
    tracker made by the caller gets the framework's plan where its own says nothing."""
    lightning = lightning_stand_in(monkeypatch)
    producer = ListProducer()
    callback = lightning.JoulestreamCallback(
        model="m", region="FR", user_id="u", producer=producer, meters=fake_meters(),
        planned_steps=1_000,
    )  # fmt: skip
    trainer = types.SimpleNamespace(
        current_epoch=0, global_step=0, callback_metrics={}, max_steps=500, max_epochs=4
    )
    callback.on_train_start(trainer, types.SimpleNamespace(hparams={}))
    callback.on_train_end(trainer, None)
    assert (producer.events[0].planned_steps, producer.events[0].planned_epochs) == (1_000, 4)
    tracker, producer = tracker_and_producer()
    core = TrackerCallbackCore(tracker)
    core.train_start("torch 2.5", planned_steps=2.0, planned_epochs=0.5)
    core.train_end()
    # 2.0 steps is a count; half an epoch is not a plan of at least one.
    assert (producer.events[0].planned_steps, producer.events[0].planned_epochs) == (2, None)


def test_plan_counts():
    """What the core passes on as a plan: counts of at least one, fractions rounded up."""
    values = (10, 2.5, 3.0, -1, 0, None, float("inf"), float("nan"), True, "12", 2**40)
    assert [core_module.count(v) for v in values] == [
        10, 3, 3, None, None, None, None, None, None, None, None
    ]  # fmt: skip


def test_lightning_ctrl_c_is_cancelled(monkeypatch):
    lightning = lightning_stand_in(monkeypatch)
    tracker, producer = tracker_and_producer()
    callback = lightning.JoulestreamCallback(tracker)
    trainer = types.SimpleNamespace(current_epoch=0, global_step=0, callback_metrics={})
    callback.on_train_start(trainer, None)
    callback.on_exception(trainer, None, KeyboardInterrupt())
    assert (producer.events[-1].status, producer.events[-1].reason) == (
        "cancelled",
        "KeyboardInterrupt: ",
    )


class StandInModel:
    """A module that runs forward pre-hooks as torch does (with_kwargs=True)."""

    def __init__(self) -> None:
        self.training = True
        self.hooks: list[Callable[..., None]] = []

    def register_forward_pre_hook(self, hook, *, with_kwargs: bool = False):
        assert with_kwargs
        self.hooks.append(hook)
        return types.SimpleNamespace(remove=lambda: self.hooks.remove(hook))

    def __call__(self, *args, **kwargs) -> None:
        for hook in self.hooks:
            hook(self, args, kwargs)


def hf_args(**changes: object) -> types.SimpleNamespace:
    args = types.SimpleNamespace(
        learning_rate=1e-3,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=2,
        num_train_epochs=1,
        max_steps=-1,
    )
    vars(args).update(changes)
    return args


def batch(size: int) -> dict[str, object]:
    return {"input_ids": types.SimpleNamespace(shape=(size, 128)), "labels": None}


def test_transformers_adapter_counts_the_samples_the_model_saw(monkeypatch):
    """20 samples in micro-batches of 8 with 2 per step: steps of 16 and 4; an evaluation's
    forward passes (eval mode) are not counted; tokens from num_input_tokens_seen."""
    stand_in(monkeypatch, "transformers", TrainerCallback=object, __version__="5.24.0")
    hf = adapter(monkeypatch, "transformers")
    producer = ListProducer()
    callback = hf.JoulestreamCallback(
        model="m", region="FR", interval_s=3600, producer=producer, meters=fake_meters()
    )
    model = StandInModel()
    args = hf_args()
    state = types.SimpleNamespace(
        epoch=0.0, global_step=0, num_input_tokens_seen=0, max_steps=2, num_train_epochs=1
    )
    callback.on_train_begin(args, state, None, model=model)
    callback.on_epoch_begin(args, state, None, model=model)
    model(**batch(8))
    model(**batch(8))
    state.global_step, state.epoch, state.num_input_tokens_seen = 1, 2 / 3, 2048
    callback.on_step_end(args, state, None, model=model)
    callback.on_log(args, state, None, logs={"loss": 0.4})
    model.training = False
    model(**batch(8))  # evaluation
    model.training = True
    model(**batch(4))
    state.global_step, state.epoch, state.num_input_tokens_seen = 2, 1.0, 2560
    callback.on_step_end(args, state, None, model=model)
    callback.on_epoch_end(args, state, None, model=model)
    callback.on_train_end(args, state, None, model=model)
    measurements = [e for e in producer.events if isinstance(e, Measurement)]
    assert [(m.epoch, m.step, m.samples, m.tokens, m.loss) for m in measurements] == [
        (0, 2, 20, 2560, 0.4),
        (0, 2, None, None, 0.4),
    ]
    assert model.hooks == []
    started = producer.events[0]
    assert dict(started.hyperparameters) == {
        "learning_rate": "0.001",
        "per_device_train_batch_size": "8",
        "gradient_accumulation_steps": "2",
        "num_train_epochs": "1",
        "max_steps": "-1",
    }
    # The plan the Trainer worked out (state), not its arguments (max_steps -1).
    assert (started.planned_steps, started.planned_epochs) == (2, 1)


def test_transformers_stopped_by_max_steps_mid_epoch_reports_that_epoch(monkeypatch):
    """max_steps stops training 40 % into the third epoch: its steps and its end say epoch 2
    (the previous rule, round(2.4) - 1, said 1)."""
    stand_in(monkeypatch, "transformers", TrainerCallback=object, __version__="5.24.0")
    hf = adapter(monkeypatch, "transformers")
    tracker, producer = tracker_and_producer()
    callback = hf.JoulestreamCallback(tracker)
    model = StandInModel()
    args = hf_args(gradient_accumulation_steps=1)
    state = types.SimpleNamespace(epoch=2.0, global_step=10)
    callback.on_train_begin(args, state, None, model=model)
    callback.on_epoch_begin(args, state, None, model=model)
    model(**batch(8))
    state.global_step, state.epoch = 11, 2.4
    callback.on_step_end(args, state, None, model=model)
    callback.on_epoch_end(args, state, None, model=model)
    callback.on_train_end(args, state, None, model=model)
    assert epochs(producer) == [(2, 8, None), (2, None, None)]


def test_transformers_log_outside_training_is_ignored(monkeypatch):
    stand_in(monkeypatch, "transformers", TrainerCallback=object, __version__="5.24.0")
    hf = adapter(monkeypatch, "transformers")
    callback = hf.JoulestreamCallback(model="m", producer=ListProducer(), meters=fake_meters())
    callback.on_log(hf_args(), types.SimpleNamespace(), None, logs={"eval_loss": 0.3})


def test_keras_adapter_with_batch_size_where_the_model_does_not_count(monkeypatch):
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


def test_a_new_training_start_ends_a_run_whose_training_never_ended():
    producer = ListProducer()
    core = TrackerCallbackCore(model="m", region="FR", producer=producer, meters=fake_meters())
    core.train_start("torch 2.5")
    first_run = core.tracker.run_id
    core.train_start("torch 2.5")
    finished = [e for e in producer.events if isinstance(e, RunFinished)]
    assert [(e.run_id, e.status, e.reason) for e in finished] == [
        (first_run, "failed", core_module.ENDED_WITHOUT_END_HOOK)
    ]
    assert core.tracker.running
    assert core.tracker.run_id != first_run
    core.train_end()


def test_at_exit_a_run_still_open_ends_failed_with_the_uncaught_exception(monkeypatch):
    """Python sets sys.last_value for an uncaught exception before atexit handlers run."""
    registered: list[Callable[[], None]] = []
    monkeypatch.setattr(atexit, "register", registered.append)
    monkeypatch.setattr(atexit, "unregister", registered.remove)
    tracker, producer = tracker_and_producer()
    core = TrackerCallbackCore(tracker)
    core.train_start("keras 3.15.1")
    assert registered == [core._at_exit]
    monkeypatch.setattr(sys, "last_value", ValueError("shapes differ"), raising=False)
    registered[0]()
    assert (producer.events[-1].status, producer.events[-1].reason) == (
        "failed",
        "ValueError: shapes differ",
    )
    assert registered == []


def test_at_exit_without_an_exception_says_the_process_exited(monkeypatch):
    monkeypatch.setattr(atexit, "register", lambda f: None)
    monkeypatch.setattr(atexit, "unregister", lambda f: None)
    monkeypatch.delattr(sys, "last_value", raising=False)
    tracker, producer = tracker_and_producer()
    core = TrackerCallbackCore(tracker)
    core.train_start("keras 3.15.1")
    core._at_exit()
    assert (producer.events[-1].status, producer.events[-1].reason) == (
        "failed",
        core_module.PROCESS_EXITED,
    )


def test_a_tracker_started_by_the_caller_is_left_to_the_caller():
    tracker, producer = tracker_and_producer()
    with tracker:
        core = TrackerCallbackCore(tracker)
        core.train_start("torch 2.5")
        core.train_end()
        assert tracker.running
    assert [type(e).__name__ for e in producer.events] == [
        "RunStarted",
        "Measurement",
        "RunFinished",
    ]


def test_adapter_without_its_framework_says_which_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", None)
    with pytest.raises(ImportError, match=r"joulestream\[keras\]"):
        adapter(monkeypatch, "keras")
