"""The trusted judge of generated images: a small classifier grader trains itself, outside any sandbox.

A generation assignment's samples are scored through the eyes of a network that
has learned what the real images look like: its features (for the Frechet
distance) and its class probabilities (confidence, coverage, label agreement).
The judge is trained on the data set's public training split, with a fixed seed
and one CPU thread (so the same inputs give the same weights), and cached under
`<cache_dir>/judges/<key>/`, where the key is a hash of the data, this module's
code, the seed and the torch version: a change to any of them trains a new
judge, and nothing else ever does. Weights are stored as a state_dict and
loaded with `weights_only=True` (no pickled code).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from grader.datasets import PreparedData

log = logging.getLogger("grader.judges")

FEATURES = 16  # judge features: few enough that a few hundred held-out images estimate their covariance well
EPOCHS = 40
BATCH_SIZE = 64
LEARNING_RATE = 2e-3
_WEIGHTS, _ABOUT = "judge.pt", "judge.json"
_CHUNK = 1024  # images judged at once


class JudgeNet(nn.Module):
    """Two convolutions, a hidden layer, then a FEATURES-wide layer whose values are the judge's features."""

    def __init__(self, channels: int, height: int, width: int, num_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * (height // 2) * (width // 2), 128),
            nn.ReLU(),
            nn.Linear(128, FEATURES),
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(FEATURES, num_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (features, logits) of NCHW images."""
        features = self.body(x)
        return features, self.head(features)


@dataclasses.dataclass(frozen=True)
class Judge:
    """A trained judge: features and class probabilities of (n, H, W, C) images in [0, 1], as float64."""

    net: JudgeNet
    about: dict  # how it was trained: seconds, held-out accuracy, key

    def features(self, images: np.ndarray) -> np.ndarray:
        return self._judge(images)[0]

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        return self._judge(images)[1]

    def _judge(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        features, probabilities = [], []
        with torch.no_grad():
            for start in range(0, len(images), _CHUNK):
                batch = torch.from_numpy(np.ascontiguousarray(images[start : start + _CHUNK], dtype=np.float32))
                feature, logits = self.net(batch.permute(0, 3, 1, 2))
                features.append(feature.double().numpy())
                probabilities.append(torch.softmax(logits.double(), dim=1).numpy())
        if not features:
            return np.zeros((0, FEATURES)), np.zeros((0, self.net.head[-1].out_features))
        return np.concatenate(features), np.concatenate(probabilities)


def load_judge(dataset: PreparedData, cache_dir: Path, seed: int) -> Judge:
    """Return the data set's judge, training it (once, a few seconds) when no cached one fits."""
    public = dataset.arrays("public")
    x_train, y_train = public["x_train"], public["y_train"]
    net = _new_net(x_train, y_train, seed)
    folder = cache_dir / "judges" / judge_key(dataset, seed)
    if not (folder / _ABOUT).is_file():
        _train_and_store(net, dataset, seed, folder)
    net.load_state_dict(torch.load(folder / _WEIGHTS, weights_only=True))
    net.eval()
    return Judge(net, json.loads((folder / _ABOUT).read_text()))


def judge_key(dataset: PreparedData, seed: int) -> str:
    """What the judge's weights depend on: the data, this module's code, the seed and torch's version."""
    identity = {
        "data": dataset.sha256,
        "code": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        "seed": seed,
        "torch": torch.__version__,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def _new_net(x_train: np.ndarray, y_train: np.ndarray, seed: int) -> JudgeNet:
    """A judge with its initial weights drawn from the seed (the process's random state is left as it was)."""
    height, width, channels = x_train.shape[1:]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return JudgeNet(channels, height, width, int(y_train.max()) + 1)


def _train_and_store(net: JudgeNet, dataset: PreparedData, seed: int, folder: Path) -> None:
    """Train the judge, then move its weights and description into place atomically."""
    public, hidden = dataset.arrays("public"), dataset.arrays("hidden")
    started = time.perf_counter()
    train_judge(net, public["x_train"], public["y_train"], seed)
    seconds = round(time.perf_counter() - started, 2)
    net.eval()
    judge = Judge(net, {})
    about = {
        "key": folder.name,
        "seed": seed,
        "training_seconds": seconds,
        "train_accuracy": _accuracy(judge, public["x_train"], public["y_train"]),
        "held_out_accuracy": _accuracy(judge, hidden["x_test"], hidden["y_test"]) if "x_test" in hidden else None,
    }
    log.info("trained judge %s in %.1f s: %s", folder.name, seconds, about)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".staging-"))
    try:
        torch.save(net.state_dict(), staging / _WEIGHTS)
        (staging / _ABOUT).write_text(json.dumps(about, indent=1))
        if folder.exists() and not (folder / _ABOUT).is_file():
            shutil.rmtree(folder)  # left half-written by a crash
        try:
            os.replace(staging, folder)
        except OSError:  # another process stored the same judge first: theirs is as good
            if not (folder / _ABOUT).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def train_judge(net: JudgeNet, x_train: np.ndarray, y_train: np.ndarray, seed: int) -> None:
    """Train in place, deterministically: one thread, shuffles drawn from the seed."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a reduction split over threads may round differently
    try:
        with torch.random.fork_rng(devices=[]):  # leaves the process's random state as it was
            torch.manual_seed(seed)
            _fit(net, torch.from_numpy(x_train).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(y_train))
    finally:
        torch.set_num_threads(threads)


def _fit(net: JudgeNet, x: torch.Tensor, y: torch.Tensor) -> None:
    optimizer = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)
    criterion = nn.CrossEntropyLoss()
    net.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(x))
        for start in range(0, len(x), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            optimizer.zero_grad()
            loss = criterion(net(x[batch])[1], y[batch])
            loss.backward()
            optimizer.step()
        scheduler.step()


def _accuracy(judge: Judge, images: np.ndarray, labels: np.ndarray) -> float:
    return round(float(np.mean(judge.probabilities(images).argmax(axis=1) == labels)), 6)
