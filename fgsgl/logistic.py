"""Linear probes: multinomial logistic regression in numpy, the L2 penalty chosen on val.

One implementation for every place that asks "how linearly decodable is Y from X?":
SynthMG's difficulty baselines (fgsgl.synth.calibrate) and the attribute probes on a
trained model's features (fgsgl.evaluate.probe). numpy only: the problems are small and
convex, and importing torch's optimisers costs more (seconds, they import torch._dynamo)
than the fit. Everything is deterministic: zero (or warm) start, full batch, no sampling,
so the same inputs give the same numbers on every run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PENALTIES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)

Model = tuple[np.ndarray, np.ndarray]  # (W (D, C), b (C,))


def _loss_and_grad(
    theta: np.ndarray, x: np.ndarray, onehot: np.ndarray, penalty: float
) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy + penalty * |W|^2 and its gradient; theta = [W; b]."""
    d, c = x.shape[1], onehot.shape[1]
    w, b = theta[: d * c].reshape(d, c), theta[d * c :]
    logits = x @ w + b
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    n = len(x)
    loss = -(onehot * log_p).sum() / n + penalty * (w * w).sum()
    residual = (np.exp(log_p) - onehot) / n
    grad_w = x.T @ residual + 2 * penalty * w
    return float(loss), np.concatenate([grad_w.ravel(), residual.sum(axis=0)])


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    classes: int,
    penalty: float,
    init: Model | None = None,
    *,
    iterations: int = 300,
    memory: int = 10,
) -> Model:
    """Multinomial logistic regression with an L2 penalty on W, fitted by L-BFGS (float64).

    y: int labels in 0..classes-1. Deterministic: zero (or `init`) start, full batch.
    """
    d = x.shape[1]
    onehot = np.eye(classes)[y]

    def dot(a: np.ndarray, b: np.ndarray) -> float:
        # Not BLAS: on a busy machine OpenBLAS's threads cost more than these dot products.
        return float(np.multiply(a, b).sum())

    theta = (
        np.zeros(d * classes + classes)
        if init is None
        else np.concatenate([init[0].ravel(), init[1]])
    )
    loss, grad = _loss_and_grad(theta, x, onehot, penalty)
    steps: list[tuple[np.ndarray, np.ndarray]] = []
    for _ in range(iterations):
        if np.abs(grad).max() < 1e-6:
            break
        # Two-loop recursion: the quasi-Newton direction from the last `memory` steps.
        q = grad.copy()
        alphas = []
        for s_k, y_k in reversed(steps):
            a = dot(s_k, q) / dot(y_k, s_k)
            alphas.append(a)
            q -= a * y_k
        if steps:
            s_k, y_k = steps[-1]
            q *= dot(s_k, y_k) / dot(y_k, y_k)
        for (s_k, y_k), a in zip(steps, reversed(alphas), strict=True):
            q += s_k * (a - dot(y_k, q) / dot(y_k, s_k))
        direction = -q
        slope = dot(grad, direction)
        if slope >= 0:  # not a descent direction: restart from the gradient
            steps.clear()
            direction, slope = -grad, -dot(grad, grad)
        step = 1.0 if steps else 1.0 / max(1.0, np.abs(grad).sum())
        while True:  # backtracking until the Armijo condition holds
            candidate = theta + step * direction
            new_loss, new_grad = _loss_and_grad(candidate, x, onehot, penalty)
            if new_loss <= loss + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s_new, y_new = candidate - theta, new_grad - grad
        if dot(s_new, y_new) > 1e-12:
            steps.append((s_new, y_new))
            steps = steps[-memory:]
        converged = loss - new_loss < 1e-10 * max(1.0, abs(loss))
        theta, loss, grad = candidate, new_loss, new_grad
        if converged:
            break
    return theta[: d * classes].reshape(d, classes), theta[d * classes :]


def predict(x: np.ndarray, model: Model) -> np.ndarray:
    """The most probable class of each row."""
    w, b = model
    return (x @ w + b).argmax(axis=1)


def accuracy(x: np.ndarray, y: np.ndarray, model: Model) -> float:
    """Top-1 of `model` on (x, y); NaN when there are no rows."""
    return float((predict(x, model) == y).mean()) if len(y) else float("nan")


def standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Every array minus the train rows' mean, over their std (+1e-6: constant features
    stay finite), in float64: one scale for all features, so one L2 penalty fits them."""
    train = train.astype(np.float64)
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-6
    return [(a.astype(np.float64) - mean) / std for a in (train, *others)]


def select_penalty(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    classes: int,
    penalties: Sequence[float] = PENALTIES,
) -> tuple[float, Model, float]:
    """(penalty, model, val accuracy): fitted on train for each penalty, strongest first
    and each warm-started from the last, the best on val kept (the strongest on a tie)."""
    best: tuple[float, float, Model] | None = None
    model: Model | None = None
    for penalty in sorted(penalties, reverse=True):
        model = fit_logistic(x_train, y_train, classes, penalty, init=model)
        val = accuracy(x_val, y_val, model)
        if best is None or val > best[0]:
            best = (val, penalty, model)
    if best is None:
        raise ValueError("select_penalty needs at least one penalty")
    val, penalty, chosen = best
    return penalty, chosen, val
