r"""The objective every fit minimises, written once.

    J(W, b) = 1/S sum_j s_j loss_j(W, b)
              + alpha [ l1_ratio ||W||_1 + (1 - l1_ratio)/2 ||W||^2 ],
    S = sum_j s_j,   s_j = sample_weight_j * class_weight[y_j],   alpha = 1 / (C S)

with ``loss_j`` the (label-smoothed) negative log-likelihood of row j under the
model; its gradient and the stable way to compute both are in the docstring of
:mod:`softmax_nb.kernels.cpu`. With the same C and l1_ratio this is
scikit-learn's ``LogisticRegression`` objective times 1/S (``C = inf``: no
penalty), so the minimiser is the same. The intercept b is never penalised.

Two classes are one row of log-odds (W of shape (1, n_features), scikit-learn's
binary model); three or more classes, one row per class.  The L1 part is not
differentiable at 0: ``loss_gradient`` returns the smooth part (data term and
L2 term) and :attr:`SoftmaxObjective.l1_weights` the L1 strength of every
parameter, for the solvers that handle it (OWL-QN and FISTA in
:mod:`softmax_nb.model.optim`).

:class:`SoftmaxObjective` owns what turns hyperparameters into that J: the flat
parameter layout ``theta = [coef.ravel(), intercept]``, C -> lambda, class weights
-> per-row weights (:func:`class_weight_vector`, scikit-learn's semantics),
label smoothing and the penalty. The data term is evaluated by a backend
(:mod:`softmax_nb.model.backends`): rows in memory on the CPU or a CUDA device,
or row blocks streamed from a dataset file. No other module computes lambda,
class weights or penalties.
"""

import numpy as np

from .. import kernels
from ..kernels.penalty import L1Penalty, L2Penalty


def reg_strength(C, total_weight):
    """alpha = 1 / (C S) for scikit-learn's C and the total sample weight S (0 for C = inf)."""
    if np.isinf(C):
        return 0.0
    if not total_weight > 0:
        raise ValueError(f"the sample weights sum to {total_weight}: nothing to fit")
    return 1.0 / (float(C) * float(total_weight))


def l2_reg_strength(C, total_weight, l1_ratio=0.0):
    """lambda = (1 - l1_ratio) / (C S), the strength of the L2 term lambda/2 ||W||^2."""
    return (1.0 - float(l1_ratio)) * reg_strength(C, total_weight)


def l1_reg_strength(C, total_weight, l1_ratio=0.0):
    """l1_ratio / (C S), the strength of the L1 term."""
    return float(l1_ratio) * reg_strength(C, total_weight)


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


def coef_rows(n_classes):
    """Rows of coef for ``n_classes`` classes: 1 (the log-odds of class 1) for two."""
    return 1 if int(n_classes) == 2 else int(n_classes)


class ParameterLayout:
    """theta = [coef.ravel(), intercept] (no intercept part when fit_intercept is False).

    coef has :func:`coef_rows` rows: one for two classes, else one per class.
    """

    def __init__(self, n_classes, n_features, fit_intercept=True):
        self.n_classes, self.n_features = int(n_classes), int(n_features)
        self.n_rows = coef_rows(n_classes)
        self.fit_intercept = bool(fit_intercept)

    @property
    def n_coef(self):
        return self.n_rows * self.n_features

    @property
    def n_params(self):
        return self.n_coef + (self.n_rows if self.fit_intercept else 0)

    def unpack(self, params):
        """Views ``(coef (n_rows, n_features), intercept (n_rows,) or None)`` of theta."""
        coef = params[:self.n_coef].reshape(self.n_rows, self.n_features)
        return coef, (params[self.n_coef:] if self.fit_intercept else None)

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
    l1_ratio : float in [0, 1]
        The L1 share of the penalty (scikit-learn's elastic-net mixing).
    label_smoothing : float in [0, 1)
    penalty_weight : float, optional
        The S in alpha = 1 / (C S) when it is not the rows' own total weight
        (``partial_fit`` over pieces of a larger dataset).
    """

    @classmethod
    def from_hyperparameters(cls, params, rows, n_classes, *, penalty_weight=None):
        """The objective a ``SoftmaxClassifier`` with hyperparameters ``params`` (any object
        with their attributes) minimises over ``rows``."""
        return cls(rows, n_classes, fit_intercept=params.fit_intercept, C=params.C,
                   l1_ratio=params.l1_ratio, label_smoothing=params.label_smoothing,
                   penalty_weight=penalty_weight)

    def __init__(self, rows, n_classes, *, fit_intercept=True, C=1.0, l1_ratio=0.0,
                 label_smoothing=0.0, penalty_weight=None):
        self.rows = rows
        self.layout = ParameterLayout(n_classes, rows.n_features, fit_intercept)
        self.n_classes, self.n_features = self.layout.n_classes, self.layout.n_features
        self.fit_intercept = self.layout.fit_intercept
        self.C = float(C)
        self.l1_ratio = float(l1_ratio)
        self.label_smoothing = float(label_smoothing)
        weight = rows.total_weight if penalty_weight is None else penalty_weight
        self.penalty = L2Penalty(l2_reg_strength(self.C, weight, self.l1_ratio))
        self.l1_penalty = L1Penalty(l1_reg_strength(self.C, weight, self.l1_ratio))

    @property
    def l2_reg_strength(self):
        return self.penalty.strength

    @property
    def l1_reg_strength(self):
        return self.l1_penalty.strength

    @property
    def penalized(self):
        """False without any penalty (C = inf): the optimum may then lie at infinity."""
        return self.penalty.strength > 0 or self.l1_penalty.strength > 0

    @property
    def l1_weights(self):
        """L1 strength of every entry of theta (the intercept's are 0), or None without L1."""
        if not self.l1_penalty.strength:
            return None
        weights = np.zeros(self.n_params)
        weights[:self.layout.n_coef] = self.l1_penalty.strength
        return weights

    def value(self, params):
        """The whole objective J(theta), L1 term included."""
        loss, _ = self(params)
        return loss + self.l1_penalty.value(self.unpack(np.asarray(params, dtype=np.float64))[0])

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
        """``(J_smooth, dJ_smooth/dcoef, dJ_smooth/dintercept or None)`` at (coef, intercept):
        the data term and the L2 term (J itself without L1)."""
        loss, grad_coef, grad_intercept = self.rows.loss_gradient(
            coef, intercept if self.fit_intercept else None, self.label_smoothing)
        loss = self.penalty.add_to(loss, grad_coef, coef)
        return loss, grad_coef, (grad_intercept if self.fit_intercept else None)

    def __call__(self, params):
        """``(J_smooth(theta), grad J_smooth(theta))``, the flat form the optimisers use."""
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
