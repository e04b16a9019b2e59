"""What the harness knows of each framework: detect, seed, train, predict, count.

Frameworks are imported only when the submission already uses them: importing
TensorFlow for a PyTorch submission would cost seconds for nothing.
"""

from __future__ import annotations

import importlib
import random
import sys
from typing import Any

import numpy as np

from .report import note

KERAS, TORCH, LIGHTNING = "keras", "torch", "lightning"


def detect(model: Any) -> str | None:
    """Return which framework `model` belongs to, or None."""
    roots = {cls.__module__.split(".")[0] for cls in type(model).__mro__}
    if roots & {"lightning", "pytorch_lightning"}:
        return LIGHTNING
    if "torch" in roots:
        return TORCH
    if roots & {"keras", "tf_keras"} or ("tensorflow" in roots and hasattr(model, "fit")):
        return KERAS
    return None


def seed_everything(seed: int) -> dict[str, int]:
    """Seed Python, NumPy and every framework the submission imported."""
    random.seed(seed)
    np.random.seed(seed)
    seeded = {"python": seed, "numpy": seed}
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
        seeded["torch"] = seed
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(seed)
        seeded["keras"] = seeded["tensorflow"] = seed
    elif "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)
        seeded["tensorflow"] = seed
    return seeded


def versions() -> dict[str, str]:
    """Return the versions of Python, NumPy and the frameworks in use."""
    found = {"python": sys.version.split()[0], "numpy": np.__version__}
    for name in ("torch", "tensorflow", "keras", "lightning", "pytorch_lightning"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "__version__"):
            found[name] = str(module.__version__)
    return found


def count_parameters(model: Any, framework: str) -> int | None:
    """Return the number of trainable and fixed parameters, or None if unknown."""
    try:
        if framework == KERAS:
            return int(model.count_params())
        return int(sum(p.numel() for p in model.parameters()))
    except Exception:  # an unbuilt Keras model or an odd module: unknown
        return None


def default_train(model: Any, framework: str, x: np.ndarray, y: np.ndarray, training: dict, progress) -> Any:
    """Train with the assignment's default loop."""
    note(
        f"no train() given: default {framework} training, {training['epochs']} epochs, "
        f"batch size {training['batch_size']}, learning rate {training['learning_rate']}"
    )
    trainer = {KERAS: _train_keras, TORCH: _train_torch, LIGHTNING: _train_lightning}[framework]
    return trainer(model, x, y, training, progress) or model


def _train_keras(model, x, y, training, progress):
    keras = importlib.import_module("keras")
    if getattr(model, "optimizer", None) is None:
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=training["learning_rate"]),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            progress(epoch + 1, training["epochs"], (logs or {}).get("loss"))

    model.fit(x, y, epochs=training["epochs"], batch_size=training["batch_size"], verbose=2, callbacks=[Progress()])
    return model


def _train_torch(model, x, y, training, progress):
    torch = importlib.import_module("torch")
    device = _torch_device(model)
    xs, ys = torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=training["learning_rate"])
    generator = torch.Generator().manual_seed(training["seed"])
    model.train()
    for epoch in range(training["epochs"]):
        order = torch.randperm(len(xs), generator=generator).to(device)
        total = 0.0
        for start in range(0, len(xs), training["batch_size"]):
            batch = order[start : start + training["batch_size"]]
            optimizer.zero_grad()
            loss = criterion(model(xs[batch]), ys[batch])
            loss.backward()
            optimizer.step()
            total += float(loss) * len(batch)
        progress(epoch + 1, training["epochs"], total / len(xs))
    return model


def _train_lightning(model, x, y, training, progress):
    torch = importlib.import_module("torch")
    lightning = importlib.import_module("lightning" if "lightning" in sys.modules else "pytorch_lightning")
    data = torch.utils.data.TensorDataset(torch.as_tensor(x), torch.as_tensor(y))
    loader = torch.utils.data.DataLoader(
        data, batch_size=training["batch_size"], shuffle=True, generator=torch.Generator().manual_seed(training["seed"])
    )

    class Progress(lightning.pytorch.Callback if hasattr(lightning, "pytorch") else lightning.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            loss = trainer.callback_metrics.get("train_loss")
            progress(trainer.current_epoch + 1, training["epochs"], float(loss) if loss is not None else None)

    trainer = lightning.Trainer(
        max_epochs=training["epochs"],
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir="/tmp",
        callbacks=[Progress()],
    )
    trainer.fit(model, loader)
    return model


def _torch_device(model):
    try:
        return next(model.parameters()).device
    except StopIteration:
        return "cpu"


def default_predict(model: Any, framework: str, x: np.ndarray) -> Any:
    """Return the model's outputs on `x` (scores or class ids)."""
    if framework == KERAS:
        return model.predict(x, verbose=0)
    torch = importlib.import_module("torch")
    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(x, device=_torch_device(model)))


def to_numpy(value: Any) -> np.ndarray:
    """Turn a framework tensor, a list or an array into a NumPy array."""
    if hasattr(value, "detach"):  # torch
        value = value.detach().cpu().numpy()
    elif hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # tensorflow
        value = value.numpy()
    return np.asarray(value)
