"""Penalty terms on ``coef`` (never on the intercept).

``L2Penalty``: ``lambda/2 ||W||^2`` with gradient ``lambda W``. The objective
(:class:`softmax_nb.model.objective.SoftmaxObjective`) chooses lambda (from C, the
elastic-net mixing and the total sample weight) and calls ``add_to``; the kernel
wrappers call it for their ``l2_reg_strength`` argument.

``L1Penalty``: ``mu ||W||_1``, not differentiable at 0. Its solvers need three
formulas, written here once and applied to any vector ``x`` with per-entry
strengths ``mu`` (0 on the intercept):

- the proximal map (soft thresholding) ``prox(x, t)_i = sign(x_i) max(|x_i| - t mu_i, 0)``;
- the pseudo-gradient of ``f + mu |x|`` (Andrew & Gao 2007): ``g_i + mu_i sign(x_i)``
  where ``x_i != 0``; at ``x_i = 0`` the one-sided derivative that points downhill,
  ``g_i + mu_i`` if that is < 0, ``g_i - mu_i`` if that is > 0, else 0;
- ``value``: ``sum_i mu_i |x_i|``.
"""

import numpy as np


class L2Penalty:
    """``lambda/2 ||coef||^2``; ``strength`` is lambda (0 for none)."""

    def __init__(self, strength=0.0):
        strength = float(strength)
        if not strength >= 0:
            raise ValueError(f"the L2 penalty strength must be >= 0, got {strength!r}")
        self.strength = strength

    def value(self, coef):
        coef = np.asarray(coef, dtype=np.float64)
        return 0.5 * self.strength * float(np.sum(coef * coef))

    def add_to(self, loss, grad_coef, coef):
        """``loss + penalty`` and ``grad_coef += lambda coef`` (in place); returns the loss."""
        if not self.strength:
            return float(loss)
        coef = np.asarray(coef, dtype=np.float64)
        grad_coef += self.strength * coef
        return float(loss) + 0.5 * self.strength * float(np.sum(coef * coef))


class L1Penalty:
    """``mu ||coef||_1``; ``strength`` is mu (0 for none)."""

    def __init__(self, strength=0.0):
        strength = float(strength)
        if not strength >= 0:
            raise ValueError(f"the L1 penalty strength must be >= 0, got {strength!r}")
        self.strength = strength

    def value(self, coef):
        return self.strength * float(np.sum(np.abs(np.asarray(coef, dtype=np.float64))))


def l1_value(x, weights):
    """sum_i weights_i |x_i|."""
    return float(np.dot(weights, np.abs(x)))


def soft_threshold(x, threshold):
    """The proximal map of ``sum_i threshold_i |x_i|``: exact zeros where |x_i| <= threshold_i."""
    return np.sign(x) * np.maximum(np.abs(x) - threshold, 0.0)


def pseudo_gradient(x, grad, weights):
    """The pseudo-gradient of ``f(x) + sum_i weights_i |x_i|`` given grad = f'(x)."""
    nonzero = x != 0
    pg = np.where(nonzero, grad + weights * np.sign(x), 0.0)
    at_zero = ~nonzero
    right = grad + weights
    left = grad - weights
    pg = np.where(at_zero & (right < 0), right, pg)
    pg = np.where(at_zero & (left > 0), left, pg)
    return pg
