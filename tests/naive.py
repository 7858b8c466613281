"""Plain NumPy references for every kernel, written straight from the formulas in
``softmax_nb.kernels``'s docstring, in float64.

A one-row coef is the binary log-odds model; the references evaluate it as the
softmax over the logits [0, z] (the definition), never through sigmoid formulas.
"""

import numpy as np


def _twin(coef, intercept):
    """[[0], [w]], [0, b] for a one-row coef; anything else unchanged."""
    coef = np.asarray(coef, dtype=np.float64)
    if coef.shape[0] != 1:
        return coef, intercept, False
    twin = np.vstack([np.zeros_like(coef), coef])
    return twin, (None if intercept is None else np.r_[0.0, np.asarray(intercept, float)]), True


def logits(X, coef, intercept=None):
    a = np.asarray(X, dtype=np.float64) @ np.asarray(coef, dtype=np.float64).T
    if intercept is not None:
        a = a + intercept
    return a


def log_softmax(a):
    a_max = a.max(axis=1, keepdims=True)
    return a - a_max - np.log(np.exp(a - a_max).sum(axis=1, keepdims=True))


def loss_gradient(X, y, coef, intercept=None, sample_weight=None, l2_reg_strength=0.0,
                  label_smoothing=0.0):
    coef, intercept, binary = _twin(coef, intercept)
    if binary:
        loss, grad_coef, grad_intercept = loss_gradient(X, y, coef, intercept, sample_weight,
                                                        l2_reg_strength, label_smoothing)
        return loss, grad_coef[1:], (None if grad_intercept is None else grad_intercept[1:])
    X = np.asarray(X, dtype=np.float64)
    n_samples = X.shape[0]
    n_classes = coef.shape[0]
    s = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight, float)
    s = s / s.sum()
    targets = (1 - label_smoothing) * np.eye(n_classes)[y] + label_smoothing / n_classes
    a = logits(X, coef, intercept)
    log_p = log_softmax(a)
    loss = -(s * (targets * log_p).sum(axis=1)).sum() + 0.5 * l2_reg_strength * np.sum(coef**2)
    dloss = s[:, None] * (np.exp(log_p) - targets)
    grad_coef = dloss.T @ X + l2_reg_strength * coef
    grad_intercept = dloss.sum(axis=0) if intercept is not None else None
    return loss, grad_coef, grad_intercept


def predict_proba(X, coef, intercept=None):
    coef, intercept, _ = _twin(coef, intercept)
    return np.exp(log_softmax(logits(X, coef, intercept)))


def predict_log_proba(X, coef, intercept=None):
    coef, intercept, _ = _twin(coef, intercept)
    return log_softmax(logits(X, coef, intercept))


def predict(X, coef, intercept=None):
    coef, intercept, _ = _twin(coef, intercept)
    return np.argmax(logits(X, coef, intercept), axis=1)


def lbfgs_inverse_hessian_times(grad, s_pairs, y_pairs):
    """H g by the L-BFGS two-loop recursion (Nocedal & Wright, Algorithm 7.4), pairs
    oldest first (``softmax_nb.kernels.lbfgs``'s docstring)."""
    q = np.array(grad, dtype=np.float64)
    alphas = []
    for s, y in zip(reversed(s_pairs), reversed(y_pairs)):
        rho = 1.0 / np.dot(y, s)
        alpha = rho * np.dot(s, q)
        q -= alpha * y
        alphas.append((rho, alpha))
    q *= np.dot(s_pairs[-1], y_pairs[-1]) / np.dot(y_pairs[-1], y_pairs[-1])
    for (s, y), (rho, alpha) in zip(zip(s_pairs, y_pairs), reversed(alphas)):
        q += (alpha - rho * np.dot(y, q)) * s
    return q
