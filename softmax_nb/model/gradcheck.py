"""Finite-difference check of the analytic gradient of J.

For each checked parameter theta_i,
``numeric_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)``, whose
truncation error is O(eps^2). Checks run in float64 (X is upcast for them) so that
the rounding error of J, about 1e-16 / eps, stays far below the tolerance.

- :func:`gradcheck`: at given parameters, through ``kernels.loss_gradient``;
- :func:`gradcheck_model`: at a fitted model's parameters, through the objective
  a fit on the checked rows would minimise (its lambda, class and sample weights).
  ``softmax-nb gradcheck`` and the workflow's gradcheck rule both call it.

The error is relative to the *scale of the gradient terms*, not to the gradient
itself: at an optimum the gradient is (nearly) zero while its terms are not, so an
error relative to the gradient would be rounding noise divided by almost nothing.
For the weights of class k and feature i the scale is
``sum_j s_j / S |p_jk - t_jk| |x_ji| + |lambda w_ki|`` (the per-row contributions and
the L2 term, in absolute value), for the biases ``sum_j s_j / S |p_jk - t_jk|``; a
block's ``max_rel_error`` is its largest absolute error divided by the largest
scale in the block. That scale bounds the gradient entries (the triangle
inequality), so away from an optimum the criterion is at least as strict as one
relative to the largest gradient entry, and at an optimum it stays meaningful: a
gradient that misses a term (the L2 part, say) still fails.

Defaults (eps, tolerance, rows) are the configuration schema's ``gradcheck`` section.
"""

import numpy as np
import scipy.sparse as sp

from .. import kernels
from ..settings import defaults

_DEFAULTS = defaults("gradcheck")


def term_scale(X, y, coef, intercept=None, sample_weight=None, l2_reg_strength=0.0, label_smoothing=0.0):
    """The scale of the gradient's terms: per parameter, the sum of its terms' absolute values.

    With residuals ``r_jk = p_k(x_j) - t_jk`` (for a one-row binary ``coef``,
    ``sigmoid(z_j) - t_j``) and normalised row weights ``s_j / S``:
    ``coef``: ``sum_j s_j/S |r_jk| |x_ji| + |lambda w_ki|``; ``intercept``:
    ``sum_j s_j/S |r_jk|``. Unlike the gradient, these do not vanish at an optimum.

    Parameters
    ----------
    X, y, coef, intercept, sample_weight, l2_reg_strength, label_smoothing
        As for ``softmax_nb.kernels.loss_gradient`` (y: class indices).

    Returns
    -------
    (ndarray of coef's shape, ndarray of intercept's shape or None)
    """
    X = X.tocsr().astype(np.float64) if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    coef = np.asarray(coef, dtype=np.float64)
    n_samples = X.shape[0]
    weights = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    total = weights.sum()
    weights = weights / total if total > 0 else np.zeros(n_samples)
    proba = kernels.predict_proba(X, coef, intercept)
    if coef.shape[0] == 1:  # binary: one row of log-odds, the residual of the second class
        target = (1.0 - label_smoothing) * (y == 1) + label_smoothing / 2
        residual = (proba[:, 1] - target)[:, None]
    else:
        target = np.full(proba.shape, label_smoothing / coef.shape[0])
        target[np.arange(n_samples), y] += 1.0 - label_smoothing
        residual = proba - target
    weighted = weights[:, None] * np.abs(residual)
    scale_coef = np.asarray((abs(X).T @ weighted).T) + abs(l2_reg_strength) * np.abs(coef)
    scale_intercept = None if intercept is None else weighted.sum(axis=0)
    return scale_coef, scale_intercept


def _compare(loss_at, blocks, *, eps, max_params, tolerance, rng):
    """Central differences of ``loss_at()`` against ``blocks = {name: (values, analytic, scale)}``.

    ``values`` are perturbed in place (and restored); ``loss_at`` reads them;
    ``scale`` (:func:`term_scale`) is what the errors are relative to.
    """
    result = {}
    for name, (values, analytic, term) in blocks.items():
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
        scale = max(float(np.max(term)), 1e-12)
        result[name] = {
            "n_checked": int(len(chosen)),
            "max_abs_error": float(errors.max()),
            "max_rel_error": float(errors.max() / scale),
            "gradient_scale": float(np.max(term)),
            "max_abs_gradient": float(np.max(np.abs(analytic))),
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
        ``max_rel_error`` = max |numeric - analytic| / max(gradient_scale, 1e-12),
        the error relative to ``gradient_scale``, the largest :func:`term_scale` of
        the block (meaningful at an optimum too); ``max_abs_gradient`` is the
        block's largest gradient entry, for reference.
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
    scale_coef, scale_intercept = term_scale(X, y, coef, intercept, sample_weight, l2_reg_strength,
                                             label_smoothing)
    blocks = {"coef": (coef, grad_coef, scale_coef)}
    if intercept is not None:
        blocks["intercept"] = (intercept, grad_intercept, scale_intercept)
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
    X = X.tocsr().astype(np.float64) if sp.issparse(X) else np.ascontiguousarray(X, dtype=np.float64)
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
    rows = objective.rows
    scale_coef, scale_intercept = term_scale(
        rows.X, rows.y, coef, intercept if grad_intercept is not None else None, rows.sample_weight,
        objective.l2_reg_strength, objective.label_smoothing)
    blocks = {"coef": (coef, grad_coef, scale_coef)}
    if grad_intercept is not None:
        blocks["intercept"] = (intercept, grad_intercept, scale_intercept)
    result = _compare(loss_at, blocks, eps=eps, max_params=max_params, tolerance=tolerance, rng=rng)
    result.update(n_samples=int(len(y)), n_unknown=n_unknown,
                  l2_reg_strength=objective.l2_reg_strength)
    return result
