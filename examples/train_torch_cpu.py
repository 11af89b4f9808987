"""A small PyTorch (CPU) training script measured by joulestream, two ways:

    .venv/bin/joulestream track --model mlp --dataset synthetic -- \
        .venv/bin/python examples/train_torch_cpu.py
    .venv/bin/python examples/train_torch_cpu.py --tracker   # the tracker inside, epochs closed

Needs torch (not a dependency of joulestream).
"""

import argparse
from contextlib import nullcontext

import torch
from torch import nn

from joulestream.tracker import Tracker


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracker", action="store_true", help="measure with a Tracker inside")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(20_000, 64)
    y = (x.sum(dim=1) > 0).long()
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 2))
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05)
    tracker = (
        Tracker(model="mlp", dataset="synthetic", framework=f"pytorch {torch.__version__}")
        if args.tracker
        else None
    )
    with tracker or nullcontext():
        for epoch in range(args.epochs):
            if tracker:
                tracker.log(epoch=epoch)
            for start in range(0, len(x), 256):
                xb, yb = x[start : start + 256], y[start : start + 256]
                loss = nn.functional.cross_entropy(model(xb), yb)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                if tracker:
                    tracker.log(samples=len(xb), loss=loss.item())
            accuracy = float((model(x).argmax(dim=1) == y).float().mean())
            print(f"epoch {epoch}: loss {loss.item():.3f} accuracy {accuracy:.3f}")
            if tracker:
                tracker.end_epoch(epoch, accuracy=accuracy)


if __name__ == "__main__":
    main()
