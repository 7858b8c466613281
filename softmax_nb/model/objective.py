r"""The objective every fit minimises, written once.

    J(W, b) = 1/S sum_j s_j loss_j(W, b) + lambda/2 ||W||^2,     S = sum_j s_j,
    s_j = sample_weight_j * class_weight[y_j],                  lambda = 1 / (C S)

with ``loss_j`` the (label-smoothed) negative log-likelihood of row j under the
softmax model; its gradient and the stable way to compute both are in the
docstring of :mod:`softmax_nb.kernels.cpu`. With the same C this is
scikit-learn's multinomial ``LogisticRegression`` objective (``C = inf``: no
penalty). The intercept b is never penalised.

:class:`SoftmaxObjective` owns what turns hyperparameters into that J: the flat
parameter layout ``theta = [coef.ravel(), intercept]``, C -> lambda, class weights
-> per-row weights (:func:`class_weight_vector`, scikit-learn's semantics),
label smoothing and the penalty. The data term is evaluated by a backend
(:mod:`softmax_nb.model.backends`): rows in memory on the CPU or a CUDA device,
or row blocks streamed from a dataset file. No other module computes lambda,
class weights or penalties.
"""

import numpy as np

from ..kernels import cpu as kernels
from ..kernels.penalty import L2Penalty


def l2_reg_strength(C, total_weight):
    """lambda = 1 / (C S) for scikit-learn's C and the total sample weight S (0 for C = inf)."""
    if np.isinf(C):
        return 0.0
    if not total_weight > 0:
        raise ValueError(f"the sample weights sum to {total_weight}: nothing to fit")
    return 1.0 / (float(C) * float(total_weight))


def class_weight_vector(class_weight, classes, *, y_index=None, sample_weight=None, class_counts=None):
    """Per-class weights with scikit-learn's semantics, or None.

    Parameters
    ----------
    class_weight : None, 'balanced' or dict
        A dict maps labels to weights (classes it leaves out weigh 1); its keys may
        also be the labels' text (JSON and YAML keys are strings). 'balanced' gives
        class k the weight ``S / (n_present * S_k)``, where ``S_k`` is the total
        ``sample_weight`` of its rows (``compute_class_weight`` with sample
        weights, as ``LogisticRegression`` uses it); a class without rows weighs 1
        (it adds nothing to J).
    classes : array-like of shape (n_classes,)
    y_index : ndarray of int, optional
        Class indices of the rows ('balanced' needs them or ``class_counts``).
    sample_weight : ndarray, optional
        Row weights for the weighted class counts of 'balanced'.
    class_counts : ndarray of shape (n_classes,), optional
        Rows per class, when the rows themselves are not at hand (a dataset file).

    Returns
    -------
    ndarray of shape (n_classes,), float64, or None
    """
    if class_weight is None:
        return None
    classes = np.asarray(classes)
    n_classes = len(classes)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {class_weight!r}")
        if y_index is not None:
            counts = np.bincount(np.asarray(y_index), weights=sample_weight, minlength=n_classes)
        elif class_counts is not None:
            counts = np.asarray(class_counts, dtype=np.float64)
        else:
            raise ValueError("class_weight='balanced' needs the class counts of the training rows")
        counts = np.asarray(counts[:n_classes], dtype=np.float64)
        present = counts > 0
        weights = np.ones(n_classes)
        weights[present] = counts[present].sum() / (present.sum() * counts[present])
        return weights
    if not isinstance(class_weight, dict):
        raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {class_weight!r}")
    labels = classes.tolist()
    by_text = {str(label): k for k, label in enumerate(labels)}
    weights = np.ones(n_classes)
    named, unknown = set(), []
    for label, weight in class_weight.items():
        index = labels.index(label) if label in labels else by_text.get(str(label))
        if index is None:
            unknown.append(label)
            continue
        weight = float(weight)
        if not (np.isfinite(weight) and weight >= 0):
            raise ValueError(f"class_weight[{label!r}] must be a finite number >= 0, got {weight!r}")
        weights[index] = weight
        named.add(index)
    # scikit-learn's rule: keys of labels the data lack are an error only while some
    # class is left unweighted (a dict made for a larger label set is accepted).
    if unknown and len(named) < n_classes:
        named_text = ", ".join(map(repr, unknown))
        raise ValueError(f"class_weight names class{'es' if len(unknown) > 1 else ''} {named_text}, which "
                         f"{'are' if len(unknown) > 1 else 'is'} not among the classes {', '.join(map(str, labels))}")
    return weights


def row_weights(y_index, sample_weight=None, class_weight=None):
    """s_j = sample_weight_j * class_weight[y_j] (float64; ones when both are None).

    ``class_weight`` is a per-class vector (:func:`class_weight_vector`).
    """
    n = len(y_index)
    weights = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if class_weight is not None:
        weights = weights * np.asarray(class_weight)[y_index]
    return weights


def weights_of_rows(class_weight, classes, y_index, sample_weight=None):
    """s_j of rows with class indices ``y_index``: ``class_weight`` as a hyperparameter
    (None, 'balanced' or a dict) turned into a vector, times ``sample_weight``."""
    vector = class_weight_vector(class_weight, classes, y_index=y_index, sample_weight=sample_weight)
    return row_weights(y_index, sample_weight, vector)


def total_weight(class_counts, class_weight=None):
    """S = sum_j s_j of rows known only by their class counts (a dataset file's split)."""
    counts = np.asarray(class_counts, dtype=np.float64)
    return float(counts.sum() if class_weight is None else np.dot(counts, class_weight))


class ParameterLayout:
    """theta = [coef.ravel(), intercept] (no intercept part when fit_intercept is False)."""

    def __init__(self, n_classes, n_features, fit_intercept=True):
        self.n_classes, self.n_features = int(n_classes), int(n_features)
        self.fit_intercept = bool(fit_intercept)

    @property
    def n_params(self):
        return self.n_classes * self.n_features + (self.n_classes if self.fit_intercept else 0)

    def unpack(self, params):
        """Views ``(coef (n_classes, n_features), intercept (n_classes,) or None)`` of theta."""
        n_coef = self.n_classes * self.n_features
        coef = params[:n_coef].reshape(self.n_classes, self.n_features)
        return coef, (params[n_coef:] if self.fit_intercept else None)

    def pack(self, coef, intercept):
        """theta (float64) from coef and intercept (or their gradients)."""
        coef = np.asarray(coef, dtype=np.float64).ravel()
        if self.fit_intercept:
            return np.concatenate([coef, np.asarray(intercept, dtype=np.float64)])
        return coef.copy()

    def zeros(self):
        return np.zeros(self.n_params)


class SoftmaxObjective:
    """J(theta) and its gradient over one backend of rows; theta = [coef.ravel(), intercept].

    Parameters
    ----------
    rows : backend
        Evaluates the data term (:mod:`softmax_nb.model.backends`): it has
        ``n_samples``, ``n_features``, ``total_weight`` and
        ``loss_gradient(coef, intercept, label_smoothing)`` returning the
        weighted mean ``1/S sum_j s_j loss_j`` and its gradients.
    n_classes : int
    fit_intercept : bool
    C : float
        Inverse regularization strength (``numpy.inf``: none).
    label_smoothing : float in [0, 1)
    penalty_weight : float, optional
        The S in lambda = 1 / (C S) when it is not the rows' own total weight
        (``partial_fit`` over pieces of a larger dataset).
    """

    @classmethod
    def from_hyperparameters(cls, params, rows, n_classes, *, penalty_weight=None):
        """The objective a ``SoftmaxClassifier`` with hyperparameters ``params`` (any object
        with their attributes) minimises over ``rows``."""
        return cls(rows, n_classes, fit_intercept=params.fit_intercept, C=params.C,
                   label_smoothing=params.label_smoothing, penalty_weight=penalty_weight)

    def __init__(self, rows, n_classes, *, fit_intercept=True, C=1.0, label_smoothing=0.0,
                 penalty_weight=None):
        self.rows = rows
        self.layout = ParameterLayout(n_classes, rows.n_features, fit_intercept)
        self.n_classes, self.n_features = self.layout.n_classes, self.layout.n_features
        self.fit_intercept = self.layout.fit_intercept
        self.C = float(C)
        self.label_smoothing = float(label_smoothing)
        weight = rows.total_weight if penalty_weight is None else penalty_weight
        self.penalty = L2Penalty(l2_reg_strength(self.C, weight))

    @property
    def l2_reg_strength(self):
        return self.penalty.strength

    @property
    def penalized(self):
        """False without any penalty (C = inf): the optimum may then lie at infinity."""
        return self.penalty.strength > 0

    @property
    def n_samples(self):
        return self.rows.n_samples

    # -- parameter layout (ParameterLayout) ---------------------------------

    @property
    def n_params(self):
        return self.layout.n_params

    def unpack(self, params):
        return self.layout.unpack(params)

    def pack(self, coef, intercept):
        return self.layout.pack(coef, intercept)

    def zeros(self):
        return self.layout.zeros()

    # -- evaluation ---------------------------------------------------------

    def loss_gradient(self, coef, intercept):
        """``(J, dJ/dcoef, dJ/dintercept or None)`` at (coef, intercept)."""
        loss, grad_coef, grad_intercept = self.rows.loss_gradient(
            coef, intercept if self.fit_intercept else None, self.label_smoothing)
        loss = self.penalty.add_to(loss, grad_coef, coef)
        return loss, grad_coef, (grad_intercept if self.fit_intercept else None)

    def __call__(self, params):
        """``(J(theta), grad J(theta))``, the flat form the optimisers use."""
        coef, intercept = self.unpack(np.asarray(params, dtype=np.float64))
        loss, grad_coef, grad_intercept = self.loss_gradient(coef, intercept)
        return loss, self.pack(grad_coef, grad_intercept)

    def minibatches(self, rng, batch_size):
        """The rows in seeded random minibatches ``(X, y, sample_weight)`` (one epoch)."""
        return self.rows.minibatches(rng, batch_size)

    def batch_gradient(self, params, X, y, sample_weight):
        """grad J on one minibatch: its weighted mean data term plus the full penalty."""
        if not sample_weight.sum() > 0:
            # A batch of zero-weight rows carries no information.
            return np.zeros_like(params)
        coef, intercept = self.unpack(params)
        _, grad_coef, grad_intercept = kernels.loss_gradient(
            X, y, coef, intercept, sample_weight, 0.0, self.label_smoothing)
        self.penalty.add_to(0.0, grad_coef, coef)
        return self.pack(grad_coef, grad_intercept)

    def scores(self, params):
        """``(mean log-loss, accuracy)`` of the rows at theta (unweighted, no penalty)."""
        coef, intercept = self.unpack(params)
        return self.rows.scores(coef, intercept)
