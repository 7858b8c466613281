"""Penalty terms on ``coef`` (never on the intercept).

``L2Penalty``: ``lambda/2 ||W||^2`` with gradient ``lambda W``. The objective
(:class:`softmax_nb.model.objective.SoftmaxObjective`) chooses lambda (from C and the
total sample weight) and calls ``add_to``; the kernel wrappers call it for their
``l2_reg_strength`` argument. A penalty that is not differentiable everywhere (L1)
joins as a class with ``value`` and a ``prox(coef, step)`` for proximal steps.
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
