"""Finite-difference check of the analytic gradient of J (``kernels.loss_gradient``)."""

import numpy as np

from ..kernels import cpu as kernels


def gradcheck(
    X,
    y,
    coef,
    intercept=None,
    *,
    sample_weight=None,
    l2_reg_strength=0.0,
    label_smoothing=0.0,
    eps=1e-6,
    n_samples=None,
    max_params=200,
    tolerance=1e-6,
    random_state=0,
):
    """Compare the analytic gradient with central differences, per parameter block.

    For each checked parameter theta_i,
    ``numeric_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)``, whose
    truncation error is O(eps^2). The check runs in float64 (X is upcast for it) so
    that the rounding error of J, about 1e-16 / eps, stays far below the tolerance.

    Parameters
    ----------
    X, y, coef, intercept, sample_weight, l2_reg_strength, label_smoothing
        As for ``softmax_nb.kernels.loss_gradient``.
    eps : float
        Finite-difference step.
    n_samples : int or None
        Check on a random subset of this many rows (all rows when None).
    max_params : int
        At most this many coordinates per block, chosen at random (all when fewer).
    tolerance : float
        ``passed`` is True when every block's relative error is below it.
    random_state : int

    Returns
    -------
    dict
        ``{'coef': {...}, 'intercept': {...} (when an intercept is given),
        'passed': bool}``, where each block has ``n_checked``, ``max_abs_error`` and
        ``max_rel_error`` = max |numeric - analytic| / max(max |analytic|, 1e-12 ...),
        the error relative to the block's largest gradient entry.
    """
    rng = np.random.default_rng(random_state)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if n_samples is not None and n_samples < X.shape[0]:
        rows = np.sort(rng.choice(X.shape[0], size=n_samples, replace=False))
        X, y = X[rows], y[rows]
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)[rows]
    coef = np.array(coef, dtype=np.float64)
    intercept = None if intercept is None else np.array(intercept, dtype=np.float64)

    def loss_at(c, b):
        return kernels.loss_gradient(X, y, c, b, sample_weight, l2_reg_strength,
                                     label_smoothing)[0]

    _, grad_coef, grad_intercept = kernels.loss_gradient(
        X, y, coef, intercept, sample_weight, l2_reg_strength, label_smoothing
    )
    blocks = {"coef": (coef, grad_coef)}
    if intercept is not None:
        blocks["intercept"] = (intercept, grad_intercept)

    result = {}
    for name, (values, analytic) in blocks.items():
        flat = values.reshape(-1)
        n_params = flat.size
        chosen = (np.arange(n_params) if n_params <= max_params
                  else np.sort(rng.choice(n_params, size=max_params, replace=False)))
        errors = np.empty(len(chosen))
        for i, index in enumerate(chosen):
            original = flat[index]
            flat[index] = original + eps
            upper = loss_at(coef, intercept)
            flat[index] = original - eps
            lower = loss_at(coef, intercept)
            flat[index] = original
            numeric = (upper - lower) / (2 * eps)
            errors[i] = abs(numeric - analytic.reshape(-1)[index])
        scale = max(float(np.max(np.abs(analytic))), 1e-12)
        result[name] = {
            "n_checked": int(len(chosen)),
            "max_abs_error": float(errors.max()),
            "max_rel_error": float(errors.max() / scale),
        }
    result["passed"] = all(block["max_rel_error"] < tolerance
                           for key, block in result.items())
    return result
