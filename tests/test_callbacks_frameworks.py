"""The Lightning and Transformers callbacks with the real frameworks on torch (CPU).

Opt-in: ``make test-frameworks`` (marker ``frameworks``; torch, lightning, transformers and
accelerate in the environment, see the README). Skipped where they are not installed.
"""

from typing import Any

import pytest

from joulestream.events import Measurement, RunFinished
from tests.fakes import ListProducer, fake_meters

pytestmark = pytest.mark.frameworks

torch: Any = pytest.importorskip("torch")  # untyped where it is not installed


def callback_args(producer: ListProducer) -> dict[str, Any]:
    return {
        "model": "tiny",
        "region": "FR",
        "interval_s": 3600,
        "producer": producer,
        "meters": fake_meters(),
    }


def measurements(producer: ListProducer) -> list[Measurement]:
    return [e for e in producer.events if isinstance(e, Measurement)]


def dataset(samples: int) -> Any:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(samples, 4, generator=generator)
    return torch.utils.data.TensorDataset(x, (x.sum(dim=1) > 0).long())


# Lightning.
def lightning_module(fail_at_step: int | None = None) -> Any:
    pl: Any = pytest.importorskip("lightning.pytorch")

    class Tiny(pl.LightningModule):  # type: ignore[misc]  # untyped
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 2)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            if fail_at_step is not None and self.global_step == fail_at_step:
                raise RuntimeError("step exploded")
            x, y = batch
            loss = torch.nn.functional.cross_entropy(self.layer(x), y)
            self.log("train_loss", loss, on_epoch=True)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    return pl, Tiny()


def lightning_trainer(pl: Any, callback: Any, **args: Any) -> Any:
    return pl.Trainer(
        accelerator="cpu",
        callbacks=[callback],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **args,
    )


# Lightning's hints (num_workers, ...), and Lightning 2.6's use of torch's deprecated LeafSpec.
LIGHTNING_WARNINGS = ("ignore::UserWarning", "ignore:.*LeafSpec.*:FutureWarning")


@pytest.mark.filterwarnings(*LIGHTNING_WARNINGS)
def test_lightning_exact_samples_and_epochs():
    """250 samples in batches of 32, 2 epochs: 250 per epoch, the last batch of 26 included."""
    from joulestream.callbacks.lightning import JoulestreamCallback

    pl, module = lightning_module()
    producer = ListProducer()
    loader = torch.utils.data.DataLoader(dataset(250), batch_size=32)
    trainer = lightning_trainer(pl, JoulestreamCallback(**callback_args(producer)), max_epochs=2)
    trainer.fit(module, loader)
    assert [(m.epoch, m.samples, m.step) for m in measurements(producer)] == [
        (0, 250, 8),
        (1, 250, 16),
        (1, None, 16),
    ]
    assert producer.events[-1].status == "completed"


@pytest.mark.filterwarnings(*LIGHTNING_WARNINGS)
def test_lightning_max_steps_mid_epoch_ends_at_the_epoch_it_was_in():
    """max_steps=11 with 8 batches per epoch: the run ends in epoch 1 with 3 batches (96)."""
    from joulestream.callbacks.lightning import JoulestreamCallback

    pl, module = lightning_module()
    producer = ListProducer()
    loader = torch.utils.data.DataLoader(dataset(250), batch_size=32)
    trainer = lightning_trainer(
        pl, JoulestreamCallback(**callback_args(producer)), max_epochs=5, max_steps=11
    )
    trainer.fit(module, loader)
    reported = [(m.epoch, m.samples) for m in measurements(producer)]
    assert reported[0] == (0, 250)
    assert sum(samples or 0 for epoch, samples in reported if epoch == 1) == 96
    assert reported[-1][0] == 1


@pytest.mark.filterwarnings(*LIGHTNING_WARNINGS)
def test_lightning_error_in_training_ends_the_run_failed():
    from joulestream.callbacks.lightning import JoulestreamCallback

    pl, module = lightning_module(fail_at_step=2)
    producer = ListProducer()
    loader = torch.utils.data.DataLoader(dataset(100), batch_size=10)
    trainer = lightning_trainer(pl, JoulestreamCallback(**callback_args(producer)), max_epochs=1)
    with pytest.raises(RuntimeError, match="step exploded"):
        trainer.fit(module, loader)
    finished = producer.events[-1]
    assert isinstance(finished, RunFinished)
    assert (finished.status, finished.reason) == ("failed", "RuntimeError: step exploded")


# Transformers.
class TinyClassifier(torch.nn.Module):  # type: ignore[misc]  # untyped here
    """What Trainer needs of a model: keyword inputs, a loss in the output when labels come."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 2)
        self.fail = fail

    def forward(self, x: Any, labels: Any = None) -> dict[str, Any]:
        if self.fail:
            raise RuntimeError("forward exploded")
        logits = self.layer(x)
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = torch.nn.functional.cross_entropy(logits, labels)
        return out


class Rows(torch.utils.data.Dataset):  # type: ignore[misc]  # untyped here
    def __init__(self, samples: int) -> None:
        self.data = dataset(samples)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> dict[str, Any]:
        x, y = self.data[i]
        return {"x": x, "labels": y}


def hf_trainer(tmp_path: Any, callback: Any, model: Any, **args: Any) -> Any:
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    training_args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=50,
        learning_rate=0.1,
        report_to=[],
        save_strategy="no",
        logging_steps=1,
        use_cpu=True,
        disable_tqdm=True,
        **args,
    )
    callbacks = [callback] if callback is not None else []
    return transformers.Trainer(
        model=model, args=training_args, train_dataset=Rows(2010), callbacks=callbacks
    )


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
def test_transformers_exact_samples_and_epochs(tmp_path):
    """2010 samples in batches of 50, 1 epoch: 2010 (40 x 50 + 10), not 2050."""
    from joulestream.callbacks.transformers import JoulestreamCallback

    producer = ListProducer()
    trainer = hf_trainer(
        tmp_path,
        JoulestreamCallback(**callback_args(producer)),
        TinyClassifier(),
        num_train_epochs=1,
    )
    trainer.train()
    reported = measurements(producer)
    assert [(m.epoch, m.samples) for m in reported] == [(0, 2010), (0, None)]
    assert reported[0].step == 41
    assert producer.events[-1].status == "completed"


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
def test_transformers_max_steps_mid_epoch_ends_at_the_epoch_it_was_in(tmp_path):
    """41 steps per epoch; max_steps=50 stops 9 steps into epoch 1 (450 samples there)."""
    from joulestream.callbacks.transformers import JoulestreamCallback

    producer = ListProducer()
    trainer = hf_trainer(
        tmp_path,
        JoulestreamCallback(**callback_args(producer)),
        TinyClassifier(),
        num_train_epochs=3,
        max_steps=50,
    )
    trainer.train()
    reported = [(m.epoch, m.samples) for m in measurements(producer)]
    assert reported[0] == (0, 2010)
    assert sum(samples or 0 for epoch, samples in reported if epoch == 1) == 450
    assert reported[-1][0] == 1


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
def test_transformers_error_in_train_ends_the_run_failed_at_once(tmp_path):
    """An exception inside train() ends the run as failed with its text before it reaches the
    caller; the next train() is a new run that completes."""
    from joulestream.callbacks.transformers import JoulestreamCallback

    producer = ListProducer()
    model = TinyClassifier(fail=True)
    trainer = hf_trainer(
        tmp_path, JoulestreamCallback(**callback_args(producer)), model, num_train_epochs=1
    )
    with pytest.raises(RuntimeError, match="forward exploded"):
        trainer.train()
    finished = producer.events[-1]
    assert isinstance(finished, RunFinished)
    assert (finished.status, finished.reason) == ("failed", "RuntimeError: forward exploded")
    model.fail = False
    trainer.train()
    finished_events = [e for e in producer.events if isinstance(e, RunFinished)]
    assert [(e.status, e.reason) for e in finished_events] == [
        ("failed", "RuntimeError: forward exploded"),
        ("completed", None),
    ]


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
def test_transformers_callback_added_later_ends_a_failed_run_at_the_next_start(tmp_path):
    """A callback added after the Trainer was made sees no on_init_end and so cannot watch
    train(): the next train() ends that run as failed (at exit, the uncaught exception's text
    is used: tests/test_callbacks.py)."""
    from joulestream.callbacks import core
    from joulestream.callbacks.transformers import JoulestreamCallback

    producer = ListProducer()
    callback = JoulestreamCallback(**callback_args(producer))
    model = TinyClassifier(fail=True)
    trainer = hf_trainer(tmp_path, None, model, num_train_epochs=1)
    trainer.add_callback(callback)
    with pytest.raises(RuntimeError, match="forward exploded"):
        trainer.train()
    model.fail = False
    trainer.train()
    finished = [e for e in producer.events if isinstance(e, RunFinished)]
    assert [(e.status, e.reason) for e in finished] == [
        ("failed", core.ENDED_WITHOUT_END_HOOK),
        ("completed", None),
    ]
