"""Finite-difference check of the analytic gradient of J.

For each checked parameter theta_i,
``numeric_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)``, whose
truncation error is O(eps^2). Checks run in float64 (X is upcast for them) so that
the rounding error of J, about 1e-16 / eps, stays far below the tolerance.

- :func:`gradcheck`: at given parameters, through ``kernels.loss_gradient``;
- :func:`gradcheck_model`: at a fitted model's parameters, through the objective
  a fit on the checked rows would minimise (its lambda, class and sample weights).
  ``softmax-nb gradcheck`` and the workflow's gradcheck rule both call it.

Defaults (eps, tolerance, rows) are the configuration schema's ``gradcheck`` section.
"""

import numpy as np

from ..kernels import cpu as kernels
from ..settings import defaults

_DEFAULTS = defaults("gradcheck")


def _compare(loss_at, blocks, *, eps, max_params, tolerance, rng):
    """Central differences of ``loss_at()`` against ``blocks = {name: (values, analytic)}``.

    ``values`` are perturbed in place (and restored); ``loss_at`` reads them.
    """
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
            upper = loss_at()
            flat[index] = original - eps
            lower = loss_at()
            flat[index] = original
            numeric = (upper - lower) / (2 * eps)
            errors[i] = abs(numeric - analytic.reshape(-1)[index])
        scale = max(float(np.max(np.abs(analytic))), 1e-12)
        result[name] = {
            "n_checked": int(len(chosen)),
            "max_abs_error": float(errors.max()),
            "max_rel_error": float(errors.max() / scale),
        }
    result["passed"] = all(block["max_rel_error"] <= tolerance for key, block in result.items())
    return result


def gradcheck(
    X,
    y,
    coef,
    intercept=None,
    *,
    sample_weight=None,
    l2_reg_strength=0.0,
    label_smoothing=0.0,
    eps=_DEFAULTS["eps"],
    n_samples=None,
    max_params=200,
    tolerance=_DEFAULTS["max_rel_error"],
    random_state=0,
):
    """Compare the analytic gradient with central differences, per parameter block.

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
        ``passed`` is True when every block's relative error is at most this.
    random_state : int

    Returns
    -------
    dict
        ``{'coef': {...}, 'intercept': {...} (when an intercept is given),
        'passed': bool}``, where each block has ``n_checked``, ``max_abs_error`` and
        ``max_rel_error`` = max |numeric - analytic| / max(max |analytic|, 1e-12),
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

    def loss_at():
        return kernels.loss_gradient(X, y, coef, intercept, sample_weight, l2_reg_strength,
                                     label_smoothing)[0]

    _, grad_coef, grad_intercept = kernels.loss_gradient(
        X, y, coef, intercept, sample_weight, l2_reg_strength, label_smoothing
    )
    blocks = {"coef": (coef, grad_coef)}
    if intercept is not None:
        blocks["intercept"] = (intercept, grad_intercept)
    return _compare(loss_at, blocks, eps=eps, max_params=max_params, tolerance=tolerance, rng=rng)


def gradcheck_model(clf, X, y, *, sample_weight=None, n_samples=_DEFAULTS["n_samples"],
                    eps=_DEFAULTS["eps"], tolerance=_DEFAULTS["max_rel_error"], max_params=200,
                    random_state=0):
    """Check the gradient of the objective a fitted classifier minimises, at its parameters.

    Rows whose labels the model does not know are left out; then ``n_samples`` rows
    are drawn (seeded) and the objective is that of a fit on exactly them
    (``clf.objective_for``): lambda = 1 / (C * their total weight), the same
    data-to-penalty balance as in training.

    Returns
    -------
    dict
        As :func:`gradcheck`, plus ``n_samples`` (rows used), ``n_unknown`` (rows
        left out) and ``l2_reg_strength``.
    """
    rng = np.random.default_rng(random_state)
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.asarray(y)
    known = np.isin(y, clf.classes_)
    n_unknown = int((~known).sum())
    if n_unknown:
        X, y = X[known], y[known]
        sample_weight = None if sample_weight is None else np.asarray(sample_weight)[known]
    if len(y) == 0:
        raise ValueError("no row has a class the model knows: nothing to check")
    if n_samples is not None and n_samples < len(y):
        rows = np.sort(rng.choice(len(y), size=n_samples, replace=False))
        X, y = X[rows], y[rows]
        sample_weight = None if sample_weight is None else np.asarray(sample_weight)[rows]
    # float64 whatever the model's dtype: in float32, steps of eps would be rounded away.
    objective = clf.objective_for(X, y, sample_weight, dtype=np.float64)
    coef = np.array(clf.coef_, dtype=np.float64)
    intercept = np.array(clf.intercept_, dtype=np.float64)

    def loss_at():
        return objective.loss_gradient(coef, intercept)[0]

    _, grad_coef, grad_intercept = objective.loss_gradient(coef, intercept)
    blocks = {"coef": (coef, grad_coef)}
    if grad_intercept is not None:
        blocks["intercept"] = (intercept, grad_intercept)
    result = _compare(loss_at, blocks, eps=eps, max_params=max_params, tolerance=tolerance, rng=rng)
    result.update(n_samples=int(len(y)), n_unknown=n_unknown,
                  l2_reg_strength=objective.l2_reg_strength)
    return result
