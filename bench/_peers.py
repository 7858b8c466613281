"""The implementations compared: softmax_nb and its peers, each as a user would write it.

Every builder returns ``{name: callable}``; each callable computes the full-batch
objective ``mean_j -log p(y_j | x_j) + l2/2 ||W||^2`` and its gradient (or the
class probabilities) and returns them as ``(loss, grad_coef, grad_intercept)``
(or a probability array), so that :func:`check_agreement` can verify every peer
against softmax_nb before it is timed. Conversions for that check happen outside
the callables; what is timed is only what a user of each library would run.
"""

import importlib.util

import numpy as np

import softmax_nb

PEERS_OPTIONAL = {
    "sklearn": "scikit-learn",
    "torch": "torch",
}

# Agreement with softmax_nb required before a peer is timed. The loss bound for
# float32 is the one the issue sets; the gradient bound is looser because a
# float32 BLAS gemm sums up to 500000 products per entry in float32.
TOLERANCES = {
    "float32": {"loss": 1e-5, "grad": 1e-3, "proba": 1e-5},
    "float64": {"loss": 1e-10, "grad": 1e-8, "proba": 1e-12},
}


def available(module):
    """Whether an optional peer can be imported."""
    return importlib.util.find_spec(module) is not None


def missing_peers():
    """``{peer: note}`` for each optional peer that is not installed."""
    notes = {}
    if not available("sklearn"):
        notes["sklearn"] = "scikit-learn is not installed (pip install scikit-learn)"
    if not available("torch"):
        notes["torch"] = "torch is not installed (pip install torch==2.13.0 takes the CPU build)"
    return notes


# -- loss + gradient ---------------------------------------------------------


def numpy_loss_gradient(X, y, coef, intercept, l2_reg_strength):
    """Loss and gradient in plain NumPy, in X's dtype, with few temporaries."""
    n_samples = X.shape[0]
    rows = np.arange(n_samples)
    logits = X @ coef.T
    logits += intercept
    logits -= logits.max(axis=1, keepdims=True)  # stable softmax: exp() <= 1
    picked = logits[rows, y]
    np.exp(logits, out=logits)
    norm = logits.sum(axis=1)
    loss = np.mean(np.log(norm) - picked) + 0.5 * l2_reg_strength * np.vdot(coef, coef)
    # logits becomes dJ/dlogits = (p - onehot(y)) / n_samples
    logits /= norm[:, None]
    logits[rows, y] -= 1
    logits /= n_samples
    grad_coef = logits.T @ X
    grad_coef += l2_reg_strength * coef
    return float(loss), grad_coef, logits.sum(axis=0)


def loss_gradient_impls(X, y, coef, intercept, l2_reg_strength, n_threads):
    """``{name: callable}`` for the full-batch loss + gradient on (X, y).

    Parameters
    ----------
    X : ndarray (n_samples, n_features), float32 or float64, C-contiguous
    y : ndarray (n_samples,) int64 class indices
    coef : ndarray (n_classes, n_features) float64
    intercept : ndarray (n_classes,) float64
    l2_reg_strength : float
    n_threads : int
        Passed to scikit-learn's loss (its OpenMP loop takes it as an argument);
        numba, BLAS and torch threads are set by the caller.

    Returns
    -------
    impls : dict of str -> callable
        Each returns ``(loss, grad_coef (c, n), grad_intercept (c,))``.
    """
    dtype = X.dtype
    # Peers keep their parameters in X's dtype, as their users would;
    # softmax_nb takes float64 parameters (the optimiser's) and casts them itself.
    coef_x = coef.astype(dtype)
    intercept_x = intercept.astype(dtype)
    impls = {
        "softmax_nb": lambda: softmax_nb.loss_gradient(
            X, y, coef, intercept, None, l2_reg_strength
        ),
        "numpy": lambda: numpy_loss_gradient(X, y, coef_x, intercept_x, l2_reg_strength),
    }
    if available("sklearn"):
        from sklearn._loss.loss import HalfMultinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss

        n_classes = coef.shape[0]
        linear_loss = LinearModelLoss(
            base_loss=HalfMultinomialLoss(n_classes=n_classes), fit_intercept=True
        )
        # LinearModelLoss takes coef of shape (n_classes, n_features + 1) with the
        # intercept as last column (or that array raveled in Fortran order), and y
        # as floats of X's dtype, as LogisticRegression passes them.
        coef_full = np.ascontiguousarray(np.hstack([coef_x, intercept_x[:, None]]))
        y_float = y.astype(dtype)

        def sklearn_call():
            loss, grad = linear_loss.loss_gradient(
                coef_full, X, y_float, sample_weight=None,
                l2_reg_strength=l2_reg_strength, n_threads=n_threads,
            )
            return loss, grad[:, :-1], grad[:, -1]

        impls["sklearn"] = sklearn_call
    if available("torch"):
        import torch
        import torch.nn.functional as F

        X_t = torch.from_numpy(X)
        y_t = torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))
        W = torch.tensor(coef_x, requires_grad=True)
        b = torch.tensor(intercept_x, requires_grad=True)

        def torch_call():
            W.grad = None
            b.grad = None
            loss = F.cross_entropy(X_t @ W.T + b, y_t) + 0.5 * l2_reg_strength * (W * W).sum()
            loss.backward()
            return loss.item(), W.grad, b.grad

        impls["torch"] = torch_call
    return impls


def _as_numpy(value):
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().numpy()
    return np.asarray(value, dtype=np.float64)


def loss_gradient_agreement(reference, result, dtype):
    """Relative loss and gradient differences of a peer's result to softmax_nb's.

    Returns
    -------
    dict
        ``loss_rel_diff``, ``grad_rel_diff`` (max abs difference over max abs
        entry of softmax_nb's gradient, coef and intercept together), the bounds
        used and ``agrees``.
    """
    loss_ref, grad_coef_ref, grad_intercept_ref = reference
    loss, grad_coef, grad_intercept = result
    grad_ref = np.concatenate([_as_numpy(grad_coef_ref).ravel(), _as_numpy(grad_intercept_ref)])
    grad = np.concatenate([_as_numpy(grad_coef).ravel(), _as_numpy(grad_intercept)])
    loss_rel = abs(float(loss) - float(loss_ref)) / max(abs(float(loss_ref)), 1e-300)
    grad_rel = float(np.max(np.abs(grad - grad_ref)) / max(np.max(np.abs(grad_ref)), 1e-300))
    bounds = TOLERANCES[np.dtype(dtype).name]
    return {
        "loss": float(loss),
        "loss_rel_diff": loss_rel,
        "grad_rel_diff": grad_rel,
        "loss_bound": bounds["loss"],
        "grad_bound": bounds["grad"],
        "agrees": bool(loss_rel <= bounds["loss"] and grad_rel <= bounds["grad"]),
    }


# -- predict_proba -----------------------------------------------------------


def numpy_predict_proba(X, coef, intercept):
    """Stable softmax of ``X @ coef.T + intercept`` in X's dtype."""
    proba = X @ coef.T
    proba += intercept
    proba -= proba.max(axis=1, keepdims=True)
    np.exp(proba, out=proba)
    proba /= proba.sum(axis=1, keepdims=True)
    return proba


def predict_proba_impls(X, coef, intercept):
    """``{name: callable}`` returning class probabilities of shape (n_samples, c)."""
    dtype = X.dtype
    coef_x = coef.astype(dtype)
    intercept_x = intercept.astype(dtype)
    impls = {
        "softmax_nb": lambda: softmax_nb.predict_proba(X, coef, intercept),
        "numpy": lambda: numpy_predict_proba(X, coef_x, intercept_x),
    }
    if available("sklearn"):
        from sklearn.linear_model import LogisticRegression

        # A fitted model as LogisticRegression(...).fit would leave it on X's dtype.
        model = LogisticRegression()
        model.classes_ = np.arange(coef.shape[0])
        model.coef_ = coef_x
        model.intercept_ = intercept_x
        if coef.shape[0] == 2:
            # scikit-learn's binary model is one row of log-odds: a1 - a0 gives the same
            # probabilities as the softmax of the two rows.
            model.coef_ = (coef[1:] - coef[:1]).astype(dtype)
            model.intercept_ = (intercept[1:] - intercept[:1]).astype(dtype)
        model.n_features_in_ = X.shape[1]
        model.n_iter_ = np.array([0])
        impls["sklearn"] = lambda: model.predict_proba(X)
    return impls


def proba_agreement(reference, result, dtype):
    """Max absolute probability difference to softmax_nb's and whether it is in bounds."""
    diff = float(np.max(np.abs(_as_numpy(result) - _as_numpy(reference))))
    bound = TOLERANCES[np.dtype(dtype).name]["proba"]
    return {"max_abs_diff": diff, "bound": bound, "agrees": bool(diff <= bound)}
