"""Training and evaluation loops for classifiers, with progress bars, history and checkpoints.

Lesson 01 writes the training loop out by hand first; lessons 01, 04, 05, 06 and 07 then call :func:`fit`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from cvlib.models.utils import eval_mode, resolve_device


@dataclass
class History:
    """Per-epoch metrics of a :func:`fit` run (lists of equal length, one entry per epoch)."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[float]]:
        return {k: list(v) for k, v in self.__dict__.items()}


def _check_finite(loss: torch.Tensor, epoch: int, step: int) -> None:
    if not math.isfinite(loss.item()):
        raise FloatingPointError(
            f"the loss became {loss.item()} at epoch {epoch + 1}, step {step + 1}: training diverged. "
            "Lower the learning rate (e.g. by 10x), check the inputs for NaN, or add gradient clipping."
        )


def train_one_epoch(
    model: nn.Module,
    loader: Iterable,
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device | str | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.cross_entropy,
    scaler: torch.amp.GradScaler | None = None,
    epoch: int = 0,
    progress: bool = True,
) -> tuple[float, float]:
    """One pass over ``loader`` (batches of ``(images, labels)``); returns mean loss and accuracy.

    With a ``scaler`` (CUDA only) the forward pass runs under float16 autocast. Leaves the
    model in train mode. Same argument order as :func:`cvlib.detection.train_one_epoch`.

    Raises:
        FloatingPointError: as soon as the loss is NaN or infinite.
        ValueError: the loader gave no batch.
    """
    model.train()
    device = resolve_device(model, device)
    total_loss, correct, seen = 0.0, 0, 0
    bar = tqdm(loader, desc=f"epoch {epoch + 1} train", leave=False, disable=not progress)
    for step, (x, y) in enumerate(bar):
        x, y = x.to(device), y.to(device)
        with torch.autocast(device.type, dtype=torch.float16, enabled=scaler is not None):
            logits = model(x)
            loss = loss_fn(logits, y)
        _check_finite(loss, epoch, step)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        total_loss += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
        bar.set_postfix(loss=f"{total_loss / seen:.3f}")
    if seen == 0:
        raise ValueError(
            "the training loader gave no batch: check the dataset is not empty (and drop_last with a small dataset)."
        )
    return total_loss / seen, correct / seen


def predict(
    model: nn.Module, loader: Iterable, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``(N, num_classes)`` float32 and labels ``(N,)`` int64 for a whole loader (CPU tensors).

    Runs in eval mode without gradients and puts the model's mode back afterwards. Batches go
    to ``device`` (default: the model's device).

    Raises:
        ValueError: the loader gave no batch.
    """
    device = resolve_device(model, device)
    logits, labels = [], []
    with torch.no_grad(), eval_mode(model):
        for x, y in loader:
            logits.append(model(x.to(device)).float().cpu())
            labels.append(torch.as_tensor(y))
    if not logits:
        raise ValueError("the loader gave no batch: nothing to predict (check the dataset is not empty).")
    return torch.cat(logits), torch.cat(labels)


def evaluate(
    model: nn.Module,
    loader: Iterable,
    device: torch.device | str | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.cross_entropy,
) -> dict[str, float]:
    """``{"loss": mean loss, "acc": accuracy in [0, 1]}`` of ``model`` on ``loader`` (eval mode)."""
    logits, labels = predict(model, loader, device)
    return {"loss": loss_fn(logits, labels).item(), "acc": (logits.argmax(1) == labels).float().mean().item()}


def fit(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader | None = None,
    *,
    epochs: int = 5,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    device: torch.device | str | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.cross_entropy,
    amp: bool = False,
    progress: bool = True,
) -> History:
    """Train ``model`` for ``epochs`` and return its :class:`History`; the model is left in eval mode.

    Eval mode at the end on purpose: the next thing a learner does is predict, and a model left
    in train mode would use batch statistics (and update batch norm's running averages) on
    whatever it is shown.

    Args:
        optimizer: defaults to Adam(lr) on the trainable parameters.
        scheduler: stepped once per epoch.
        amp: mixed precision (float16 autocast + GradScaler); used only on CUDA.
        progress: tqdm bars (one per epoch, and one over epochs).
        device: move the model there first; default None trains where the model is.
    """
    if device is not None:
        model.to(device)
    device = resolve_device(model, device)
    if optimizer is None:
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    scaler = torch.amp.GradScaler("cuda") if (amp and device.type == "cuda") else None
    history = History()
    for epoch in tqdm(range(epochs), desc="epochs", disable=not progress):
        loss, acc = train_one_epoch(
            model,
            train_loader,
            optimizer,
            device=device,
            loss_fn=loss_fn,
            scaler=scaler,
            epoch=epoch,
            progress=progress,
        )
        history.train_loss.append(loss)
        history.train_acc.append(acc)
        if val_loader is not None:
            metrics = evaluate(model, val_loader, device, loss_fn)
            history.val_loss.append(metrics["loss"])
            history.val_acc.append(metrics["acc"])
        if scheduler is not None:
            scheduler.step()
    model.eval()
    return history


def save_checkpoint(model: nn.Module, path: str | Path, **extra: float | str) -> Path:
    """Save ``model.state_dict()`` and plain extra values (epoch, accuracy, ...) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "extra": extra}, path)
    return path


def load_checkpoint(model: nn.Module, path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a :func:`save_checkpoint` file into ``model`` (safely: ``weights_only=True``); return the extras.

    Raises:
        FileNotFoundError: with the path and how to create the checkpoint.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no checkpoint at {path}: train the model first (the lesson's training cell saves it)."
        )
    payload = torch.load(path, map_location=map_location, weights_only=True)
    model.load_state_dict(payload["state_dict"])
    return payload.get("extra", {})


def one_cycle_adamw(
    model: nn.Module,
    steps: int,
    lr: float,
    encoder_lr: float | None = None,
    weight_decay: float = 1e-4,
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """AdamW on the trainable parameters with a one-cycle schedule (10 % warm-up, cosine decay), stepped per batch.

    Parameters of ``model.encoder`` (when the model has one, as the lesson 08-09 networks do) peak at
    ``encoder_lr`` (default ``lr``; 0 freezes them in effect): a pretrained encoder wants smaller
    steps than a new head. Returns ``(optimizer, scheduler)``.

    Raises:
        ValueError: ``steps < 1`` or no trainable parameter.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}.")
    encoder = getattr(model, "encoder", None)
    in_encoder = {id(p) for p in encoder.parameters()} if isinstance(encoder, nn.Module) else set()
    trainable = [p for p in model.parameters() if p.requires_grad]
    split = [
        ([p for p in trainable if id(p) in in_encoder], lr if encoder_lr is None else encoder_lr),
        ([p for p in trainable if id(p) not in in_encoder], lr),
    ]
    split = [(params, rate) for params, rate in split if params]
    if not split:
        raise ValueError("the model has no trainable parameter.")
    optimizer = torch.optim.AdamW([{"params": p, "lr": r} for p, r in split], weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=[r for _, r in split], total_steps=steps, pct_start=0.1
    )
    return optimizer, schedule


def optimizer_step(
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler | None = None,
    step: int = 0,
) -> float:
    """One update from a scalar ``loss``: check it is finite, zero the gradients, backpropagate, step the
    optimizer (and the per-step ``schedule``, if any). Returns the loss as a float.

    Raises:
        FloatingPointError: the loss is NaN or infinite (``step`` is named in the message).
    """
    if not torch.isfinite(loss):
        raise FloatingPointError(f"the loss is {loss.item()} at step {step}: lower the learning rate.")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if schedule is not None:
        schedule.step()
    return loss.item()
