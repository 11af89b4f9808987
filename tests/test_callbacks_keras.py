"""The Keras callback with the real Keras 3 on JAX (CPU): a small model, a few epochs."""

import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest

# Before Keras is imported: it picks its backend once, at import.
os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
pytest.importorskip("keras", reason="keras and jax[cpu] are dev-test dependencies")
pytest.importorskip("jax", reason="keras and jax[cpu] are dev-test dependencies")
import keras
import numpy as np

from joulestream.callbacks.keras import JoulestreamCallback
from joulestream.events import Measurement, RunFinished
from joulestream.spool import read_lines
from tests.fakes import ListProducer, fake_meters

if keras.backend.backend() != "jax":
    pytest.skip("Keras was imported with another backend first", allow_module_level=True)


def small_model() -> keras.Model:
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data(samples: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(samples, 4)).astype("float32"), rng.integers(0, 2, size=samples)


def callback_and_producer() -> tuple[JoulestreamCallback, ListProducer]:
    producer = ListProducer()
    callback = JoulestreamCallback(
        model="mlp", region="FR", interval_s=3600, producer=producer, meters=fake_meters()
    )
    return callback, producer


def measurements(producer: ListProducer) -> list[Measurement]:
    return [e for e in producer.events if isinstance(e, Measurement)]


def test_fit_reports_exact_samples_with_the_last_partial_batch():
    """250 samples in batches of 32 over 2 epochs: 250 per epoch (7 x 32 + 26), not 256;
    16 steps; each epoch's interval closed at its end with its loss and accuracy."""
    callback, producer = callback_and_producer()
    x, y = data(250)
    small_model().fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[callback])
    per_epoch = [(m.epoch, m.samples, m.step) for m in measurements(producer)]
    assert per_epoch == [(0, 250, 8), (1, 250, 16), (1, None, 16)]
    assert all(m.loss is not None and m.accuracy is not None for m in measurements(producer)[:2])
    started, finished = producer.events[0], producer.events[-1]
    assert started.framework == f"keras {keras.__version__}"
    assert dict(started.hyperparameters)["epochs"] == "2"
    # The plan from fit's params: 2 epochs of 8 steps.
    assert (started.planned_steps, started.planned_epochs) == (16, 2)
    assert (finished.status, finished.reason) == ("completed", None)


def test_fit_stopped_mid_epoch_ends_at_the_epoch_it_was_in():
    """A callback stops training after 3 batches of the second epoch: 96 samples in epoch 1."""

    class StopAfter(keras.callbacks.Callback):  # type: ignore[misc]  # untyped
        def on_train_batch_end(self, batch: int, logs: object = None) -> None:
            if self.model.optimizer.iterations.numpy() == 8 + 3:
                self.model.stop_training = True

    callback, producer = callback_and_producer()
    x, y = data(250)
    small_model().fit(x, y, batch_size=32, epochs=5, verbose=0, callbacks=[callback, StopAfter()])
    per_epoch = [(m.epoch, m.samples, m.step) for m in measurements(producer)]
    assert per_epoch == [(0, 250, 8), (1, 96, 11), (1, None, 11)]
    assert producer.events[-1].status == "completed"


class Explodes(keras.layers.Layer):  # type: ignore[misc]  # untyped
    """Raises in a training step's forward pass (not while Keras builds the model)."""

    def call(self, x: object, training: bool | None = None) -> object:
        if training and not isinstance(x, keras.KerasTensor):
            raise RuntimeError("forward exploded")
        return x


def test_an_error_inside_a_training_step_ends_the_run_failed_with_its_text():
    callback, producer = callback_and_producer()
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2), Explodes()])
    model.compile(optimizer="sgd", loss="mse")
    x, _ = data(64)
    with pytest.raises(RuntimeError, match="forward exploded"):
        model.fit(x, np.zeros((64, 2)), batch_size=32, epochs=1, verbose=0, callbacks=[callback])
    finished = producer.events[-1]
    assert isinstance(finished, RunFinished)
    assert finished.status == "failed"
    assert finished.reason is not None
    assert finished.reason.startswith(
        "RuntimeError: Exception encountered when calling Explodes.call().\n\nforward exploded\n"
    )
    assert not callback.core.running
    # The model's own step is back in place for the next fit.
    assert model.train_function.__name__ != "guarded"


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"127.0.0.1:{port}"


def test_fit_without_a_broker_returns_within_the_stop_deadline(monkeypatch, tmp_path: Path):
    """No broker: fit() returns within the tracker's default stop deadline (5 s) plus 1.5 s,
    not 30 s late, and every event of the run is in the spool."""
    spool = tmp_path / "spool.jsonl"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", closed_port())
    monkeypatch.setenv("JOULESTREAM_SPOOL", str(spool))
    callback = JoulestreamCallback(model="mlp", region="FR", run_id="k1", meters=fake_meters())
    x, y = data(100)
    model = small_model()
    model.fit(x, y, batch_size=50, epochs=1, verbose=0)  # compiled before the clock starts
    started_s = time.monotonic()
    model.fit(x, y, batch_size=50, epochs=2, verbose=0, callbacks=[callback])
    assert time.monotonic() - started_s < 5.0 + 1.5
    records = [record for _, record in read_lines(spool) if isinstance(record, dict)]
    assert [r["seq"] for r in records] == [0, 1, 2, 3, 4]
    assert records[-1]["run_id"] == "k1"
    assert records[-1]["run_finished"] == {"status": "completed", "reason": None}
