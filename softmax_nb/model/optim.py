"""Optimisers over a loss + gradient callable, with checkpointable state.

Every optimiser works on a flat float64 parameter vector and exposes the same small
interface, so the estimator can drive, record and checkpoint any of them:

- ``step()`` runs one iteration (full-batch solvers) or one epoch (minibatch solvers);
- ``x``, ``loss``, ``grad`` hold the parameters and the *full* objective and
  gradient at them after the step (minibatch solvers evaluate them once per epoch);
- ``converged`` is True when a full-batch solver met its stopping rule;
- ``state_dict()`` / ``load_state_dict()`` save and restore everything needed to
  continue bitwise identically (arrays, counters and the RNG state).

Full-batch solvers take ``fun(x) -> (loss, grad)``, the smooth objective; with an
L1 term (``l1_weights``, the per-entry strengths of ``sum_i mu_i |x_i|``)
``lbfgs`` becomes OWL-QN and ``gd`` FISTA, and ``loss`` / ``grad`` are the whole
objective and its pseudo-gradient (:mod:`softmax_nb.kernels.penalty`). Minibatch
solvers take the objective itself (:class:`softmax_nb.model.objective.SoftmaxObjective`):
they call it for the full loss, ``minibatches(rng, batch_size)`` for one epoch of
batches and ``batch_gradient(x, X, y, sample_weight)`` for each update, so the same
code runs over rows in memory, streamed blocks or pieces given to ``partial_fit``.
:func:`make_optimizer` builds any of them from the estimator's hyperparameters.
"""

import ast
import math
import warnings

import numpy as np
from scipy.optimize import line_search

from ..kernels.lbfgs import PairMemory
from ..kernels.penalty import l1_value, pseudo_gradient, soft_threshold
from .hyperparameters import LR_SCHEDULES, SOLVERS, check_l1_solver

#: The step size each solver uses when learning_rate is None (gd: the first step).
DEFAULT_LEARNING_RATE = {"gd": 1.0, "sgd": 0.05, "adam": 1e-3, "lbfgs": None}


class _CachedObjective:
    """Remember the last evaluation so that a line search asking for f and then
    f' at the same point costs one pass over the data."""

    def __init__(self, fun):
        self.fun = fun
        self._x = None
        self._value = None

    def __call__(self, x):
        if self._x is None or not np.array_equal(x, self._x):
            self._value = self.fun(x)
            self._x = np.array(x, copy=True)
        return self._value

    def loss(self, x):
        return self(x)[0]

    def grad(self, x):
        return self(x)[1]


class _FullBatchOptimizer:
    def __init__(self, fun, x0):
        self.objective = _CachedObjective(fun)
        self.x = np.array(x0, dtype=np.float64, copy=True)
        self.loss, self.grad = self.objective(self.x)
        self.iteration = 0
        self.converged = False

    def _base_state(self):
        return {
            "x": self.x,
            "loss": np.float64(self.loss),
            "grad": self.grad,
            "iteration": np.int64(self.iteration),
            "converged": np.bool_(self.converged),
        }

    def _add_l1(self, l1_weights):
        """Make ``loss`` / ``grad`` the whole objective f + sum_i mu_i |x_i| and its
        pseudo-gradient; ``grad`` so far was f'(x) (returned)."""
        self.l1_weights = np.asarray(l1_weights, dtype=np.float64)
        smooth_grad = self.grad
        self.loss = float(self.loss) + l1_value(self.x, self.l1_weights)
        self.grad = pseudo_gradient(self.x, smooth_grad, self.l1_weights)
        return smooth_grad

    def _load_base_state(self, state):
        self.x = np.array(state["x"], dtype=np.float64)
        self.loss = float(state["loss"])
        self.grad = np.array(state["grad"], dtype=np.float64)
        self.iteration = int(state["iteration"])
        self.converged = bool(state["converged"])


class LBFGS(_FullBatchOptimizer):
    """Limited-memory BFGS with a strong-Wolfe line search.

    Stops when ``max|grad| <= gtol`` or when the relative decrease of the loss falls
    below ``ftol`` (scikit-learn's lbfgs rules, with its ``ftol = 64 * eps``).
    The (s, y) memory is part of the state, so a resumed run continues exactly.
    """

    def __init__(self, fun, x0, *, gtol=1e-4, ftol=64 * np.finfo(float).eps, memory=10,
                 max_line_search=50):
        super().__init__(fun, x0)
        self.gtol = gtol
        self.ftol = ftol
        self.max_line_search = max_line_search
        self.pairs = PairMemory(memory)
        self.previous_loss = None
        self.converged = np.max(np.abs(self.grad)) <= gtol

    def _direction(self):
        return -self.pairs.times(self.grad)

    def step(self):
        direction = self._direction()
        slope = np.dot(self.grad, direction)
        if not slope < 0:
            # Not a descent direction (curvature information went stale): restart.
            self.pairs.clear()
            direction = -self.pairs.times(self.grad)
        with warnings.catch_warnings():
            # A failed Wolfe search falls back to backtracking below; scipy's
            # LineSearchWarning about it is not news for the user.
            warnings.filterwarnings("ignore", message="The line search algorithm")
            alpha, _, _, new_loss, _, new_grad = line_search(
                self.objective.loss,
                self.objective.grad,
                self.x,
                direction,
                gfk=self.grad,
                old_fval=self.loss,
                old_old_fval=self.previous_loss,
                c1=1e-4,
                c2=0.9,
                maxiter=self.max_line_search,
            )
        if alpha is None:
            alpha, new_loss = _backtracking(self.objective.loss, self.x, self.loss,
                                            self.grad, direction)
            if alpha is None:
                # No decrease representable in float64: we are at the optimum to
                # machine precision.
                self.converged = True
                self.iteration += 1
                return
        x_new = self.x + alpha * direction
        new_loss, new_grad = self.objective(x_new)
        _remember_pair(self, x_new - self.x, new_grad - self.grad)
        decrease = (self.loss - new_loss) / max(abs(self.loss), abs(new_loss), 1.0)
        self.previous_loss = self.loss
        self.x, self.loss, self.grad = x_new, float(new_loss), new_grad
        self.iteration += 1
        self.converged = bool(np.max(np.abs(new_grad)) <= self.gtol or decrease <= self.ftol)

    def state_dict(self):
        state = self._base_state()
        state["s_history"], state["y_history"] = self.pairs.arrays(self.x.size)
        state["previous_loss"] = np.float64(
            np.nan if self.previous_loss is None else self.previous_loss
        )
        return state

    def load_state_dict(self, state):
        self._load_base_state(state)
        self.pairs.load(state["s_history"], state["y_history"])
        previous = float(state["previous_loss"])
        self.previous_loss = None if math.isnan(previous) else previous


def _remember_pair(optimizer, s, y):
    """Keep the step s and gradient change y in the optimizer's (s, y) memory when the
    curvature s.y is positive (else H would lose positive definiteness), oldest out."""
    if np.dot(s, y) > 1e-10 * np.dot(y, y):
        optimizer.pairs.append(s, y)


def _backtracking(loss_fun, x, loss, grad, direction, alpha=1.0):
    """Armijo backtracking: the first alpha that decreases the loss enough.

    alpha halves 30 times, then shrinks by 1e-3 per try down to 1e-300, so that
    badly scaled problems (features of 1e30, say) still find their tiny first step
    in about a hundred evaluations instead of failing.
    """
    slope = np.dot(grad, direction)
    tries = 0
    while alpha > 1e-300:
        new_loss = loss_fun(x + alpha * direction)
        if np.isfinite(new_loss) and new_loss <= loss + 1e-4 * alpha * slope:
            return alpha, new_loss
        alpha *= 0.5 if tries < 30 else 1e-3
        tries += 1
    return None, None


class GradientDescent(_FullBatchOptimizer):
    """Full-batch gradient descent with an Armijo backtracking line search.

    The step starts at ``learning_rate``, halves until the loss decreases enough,
    and is doubled for the next iteration after a success (an adaptive step).
    Stops when ``max|grad| <= gtol`` or the relative decrease is below ``ftol``.
    """

    def __init__(self, fun, x0, *, learning_rate=1.0, gtol=1e-4,
                 ftol=64 * np.finfo(float).eps):
        super().__init__(fun, x0)
        self.step_size = float(learning_rate)
        self.gtol = gtol
        self.ftol = ftol
        self.converged = np.max(np.abs(self.grad)) <= gtol

    def step(self):
        alpha, new_loss = _backtracking(self.objective.loss, self.x, self.loss, self.grad,
                                        -self.grad, self.step_size)
        self.iteration += 1
        if alpha is None:
            self.converged = True
            return
        x_new = self.x - alpha * self.grad
        new_loss, new_grad = self.objective(x_new)
        decrease = (self.loss - new_loss) / max(abs(self.loss), abs(new_loss), 1.0)
        self.x, self.loss, self.grad = x_new, float(new_loss), new_grad
        self.step_size = 2.0 * alpha
        self.converged = bool(np.max(np.abs(new_grad)) <= self.gtol or decrease <= self.ftol)

    def state_dict(self):
        state = self._base_state()
        state["step_size"] = np.float64(self.step_size)
        return state

    def load_state_dict(self, state):
        self._load_base_state(state)
        self.step_size = float(state["step_size"])


class OWLQN(_FullBatchOptimizer):
    """Orthant-wise limited-memory quasi-Newton (Andrew & Gao 2007) for f(x) + sum_i mu_i |x_i|.

    Each iteration: the pseudo-gradient ``pg`` (the steepest-descent direction of the
    non-smooth objective); the L-BFGS direction ``d = -H pg`` from (s, y) pairs of the
    smooth part's gradients, with the entries that disagree in sign with ``-pg`` set
    to 0; a backtracking line search along ``d`` in which every trial point is
    projected onto the orthant of the current point (entries that would cross 0
    become exactly 0). Stops when ``max|pg| <= gtol`` or the relative decrease of the
    objective falls below ``ftol``. ``loss`` is the whole objective, ``grad`` its
    pseudo-gradient, ``smooth_grad`` f'(x).
    """

    def __init__(self, fun, x0, l1_weights, *, gtol=1e-4, ftol=64 * np.finfo(float).eps, memory=10,
                 max_line_search=60):
        super().__init__(fun, x0)
        self.smooth_grad = self._add_l1(l1_weights)
        self.gtol, self.ftol = gtol, ftol
        self.max_line_search = max_line_search
        self.pairs = PairMemory(memory)
        self.converged = bool(np.max(np.abs(self.grad)) <= gtol)

    def _direction(self):
        # The L-BFGS direction of the pseudo-gradient, curvature from the smooth part.
        direction = -self.pairs.times(self.grad)
        # Keep only the entries that descend along the pseudo-gradient.
        direction[direction * self.grad >= 0] = 0.0
        return direction

    def _total(self, x):
        smooth_loss, smooth_grad = self.objective(x)
        return float(smooth_loss) + l1_value(x, self.l1_weights), smooth_grad

    def step(self):
        direction = self._direction()
        if not np.any(direction):
            # No entry may move downhill: restart from the scaled pseudo-gradient.
            self.pairs.clear()
            direction = -self.pairs.times(self.grad)
        orthant = np.where(self.x != 0, np.sign(self.x), np.sign(-self.grad))
        alpha, tries = 1.0, 0
        while True:
            trial = self.x + alpha * direction
            trial[np.sign(trial) != orthant] = 0.0  # projection onto the orthant
            new_loss, new_smooth_grad = self._total(trial)
            if np.isfinite(new_loss) and new_loss <= self.loss + 1e-4 * np.dot(self.grad, trial - self.x):
                break
            tries += 1
            if tries >= self.max_line_search or alpha < 1e-300:
                # No decrease representable in float64: optimal to machine precision.
                self.converged = True
                self.iteration += 1
                return
            alpha *= 0.5 if tries < 30 else 1e-3
        _remember_pair(self, trial - self.x, new_smooth_grad - self.smooth_grad)
        decrease = (self.loss - new_loss) / max(abs(self.loss), abs(new_loss), 1.0)
        self.x, self.loss, self.smooth_grad = trial, float(new_loss), new_smooth_grad
        self.grad = pseudo_gradient(self.x, self.smooth_grad, self.l1_weights)
        self.iteration += 1
        self.converged = bool(np.max(np.abs(self.grad)) <= self.gtol or decrease <= self.ftol)

    def state_dict(self):
        state = self._base_state()
        state["smooth_grad"] = self.smooth_grad
        state["s_history"], state["y_history"] = self.pairs.arrays(self.x.size)
        return state

    def load_state_dict(self, state):
        self._load_base_state(state)
        self.smooth_grad = np.array(state["smooth_grad"], dtype=np.float64)
        self.pairs.load(state["s_history"], state["y_history"])


class FISTA(_FullBatchOptimizer):
    """Accelerated proximal gradient (Beck & Teboulle 2009) for f(x) + sum_i mu_i |x_i|,
    with backtracking on the step and an adaptive restart (O'Donoghue & Candes 2015).

    From the extrapolated point v: ``x+ = prox(v - t f'(v), t)``, shrinking t until
    ``f(x+) <= f(v) + f'(v).(x+ - v) + ||x+ - v||^2 / (2t)``; the momentum is reset
    whenever the objective rises. Stops when ``max|pg| <= gtol`` at x or the relative
    decrease falls below ``ftol`` (over a step without restart). ``loss`` is the whole
    objective, ``grad`` its pseudo-gradient.
    """

    def __init__(self, fun, x0, l1_weights, *, learning_rate=1.0, gtol=1e-4,
                 ftol=64 * np.finfo(float).eps):
        super().__init__(fun, x0)
        self._add_l1(l1_weights)
        self.step_size = float(learning_rate)
        self.gtol, self.ftol = gtol, ftol
        self.point = self.x.copy()  # the extrapolated point v
        self.momentum = 1.0
        self.converged = bool(np.max(np.abs(self.grad)) <= gtol)

    def step(self):
        v = self.point
        v_loss, v_grad = self.objective(v)
        t = self.step_size
        while True:
            x_new = soft_threshold(v - t * v_grad, t * self.l1_weights)
            new_loss, new_grad = self.objective(x_new)
            d = x_new - v
            if np.isfinite(new_loss) and new_loss <= v_loss + np.dot(v_grad, d) + np.dot(d, d) / (2 * t):
                break
            t *= 0.5
            if t < 1e-300:
                self.converged = True
                self.iteration += 1
                return
        total = float(new_loss) + l1_value(x_new, self.l1_weights)
        self.iteration += 1
        if total > self.loss:
            # The objective rose: restart the momentum from the current x (no move).
            self.point, self.momentum = self.x.copy(), 1.0
            self.step_size = t
            return
        momentum = (1.0 + np.sqrt(1.0 + 4.0 * self.momentum**2)) / 2.0
        self.point = x_new + ((self.momentum - 1.0) / momentum) * (x_new - self.x)
        self.momentum = momentum
        decrease = (self.loss - total) / max(abs(self.loss), abs(total), 1.0)
        self.x, self.loss = x_new, total
        self.grad = pseudo_gradient(x_new, new_grad, self.l1_weights)
        self.step_size = t
        self.converged = bool(np.max(np.abs(self.grad)) <= self.gtol or decrease <= self.ftol)

    def state_dict(self):
        state = self._base_state()
        state["step_size"] = np.float64(self.step_size)
        state["point"] = self.point
        state["momentum"] = np.float64(self.momentum)
        return state

    def load_state_dict(self, state):
        self._load_base_state(state)
        self.step_size = float(state["step_size"])
        self.point = np.array(state["point"], dtype=np.float64)
        self.momentum = float(state["momentum"])


class _MinibatchOptimizer:
    """One ``step()`` is one epoch over the objective's minibatches, in a seeded order.

    ``objective`` may be replaced between steps (``partial_fit`` gives each call's
    rows their own objective); the state (x, moments, RNG, counters) carries over.
    """

    def __init__(self, objective, x0, *, batch_size, learning_rate, lr_schedule, max_epochs,
                 random_state):
        if lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
        self.objective = objective
        self.x = np.array(x0, dtype=np.float64, copy=True)
        self.batch_size = int(batch_size)
        self.learning_rate = float(learning_rate)
        self.lr_schedule = lr_schedule
        self.max_epochs = max_epochs
        self.rng = np.random.default_rng(random_state)
        self.iteration = 0
        self.n_updates = 0
        self.converged = False
        self.loss, self.grad = objective(self.x)

    def current_learning_rate(self):
        """Learning rate of the epoch about to run."""
        epoch = self.iteration
        if self.lr_schedule == "invscaling":
            return self.learning_rate / math.sqrt(1.0 + epoch)
        if self.lr_schedule == "cosine":
            return self.learning_rate * 0.5 * (1.0 + math.cos(math.pi * epoch / self.max_epochs))
        return self.learning_rate

    def step(self):
        lr = self.current_learning_rate()
        for X, y, sample_weight in self.objective.minibatches(self.rng, self.batch_size):
            grad = self.objective.batch_gradient(self.x, X, y, sample_weight)
            self.n_updates += 1
            self._update(grad, lr)
        self.iteration += 1
        self.loss, self.grad = self.objective(self.x)

    def state_dict(self):
        state = {
            "x": self.x,
            "loss": np.float64(self.loss),
            "grad": self.grad,
            "iteration": np.int64(self.iteration),
            "n_updates": np.int64(self.n_updates),
            # The RNG state as JSON text: restoring it replays the same shuffles.
            "rng_state": np.bytes_(repr(self.rng.bit_generator.state)),
        }
        state.update(self._extra_state())
        return state

    def load_state_dict(self, state):
        self.x = np.array(state["x"], dtype=np.float64)
        self.loss = float(state["loss"])
        self.grad = np.array(state["grad"], dtype=np.float64)
        self.iteration = int(state["iteration"])
        self.n_updates = int(state["n_updates"])
        rng_state = state["rng_state"]
        if isinstance(rng_state, (bytes, np.bytes_)):
            rng_state = rng_state.decode()
        self.rng.bit_generator.state = _literal(rng_state)
        self._load_extra_state(state)


def _literal(text):
    return ast.literal_eval(text)


class SGD(_MinibatchOptimizer):
    """Minibatch SGD with (Nesterov) momentum: v <- mu v - lr g; x <- x + v
    (Nesterov: x <- x + mu v - lr g, the look-ahead form)."""

    def __init__(self, objective, x0, *, momentum=0.9, nesterov=True, **kw):
        super().__init__(objective, x0, **kw)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.velocity = np.zeros_like(self.x)

    def _update(self, grad, lr):
        self.velocity *= self.momentum
        self.velocity -= lr * grad
        if self.nesterov:
            self.x += self.momentum * self.velocity - lr * grad
        else:
            self.x += self.velocity

    def _extra_state(self):
        return {"velocity": self.velocity}

    def _load_extra_state(self, state):
        self.velocity = np.array(state["velocity"], dtype=np.float64)


class Adam(_MinibatchOptimizer):
    """Adam (Kingma & Ba): bias-corrected first and second moment estimates."""

    def __init__(self, objective, x0, *, beta1=0.9, beta2=0.999, epsilon=1e-8, **kw):
        super().__init__(objective, x0, **kw)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.first_moment = np.zeros_like(self.x)
        self.second_moment = np.zeros_like(self.x)

    def _update(self, grad, lr):
        t = self.n_updates
        self.first_moment = self.beta1 * self.first_moment + (1 - self.beta1) * grad
        self.second_moment = self.beta2 * self.second_moment + (1 - self.beta2) * grad * grad
        m_hat = self.first_moment / (1 - self.beta1**t)
        v_hat = self.second_moment / (1 - self.beta2**t)
        self.x -= lr * m_hat / (np.sqrt(v_hat) + self.epsilon)

    def _extra_state(self):
        return {"first_moment": self.first_moment, "second_moment": self.second_moment}

    def _load_extra_state(self, state):
        self.first_moment = np.array(state["first_moment"], dtype=np.float64)
        self.second_moment = np.array(state["second_moment"], dtype=np.float64)


def make_optimizer(solver, objective, x0, *, tol, learning_rate=None, batch_size=256,
                   lr_schedule="constant", momentum=0.9, nesterov=True, max_iter=100,
                   random_state=None, l1_weights=None):
    """The optimiser a ``SoftmaxClassifier`` with these hyperparameters uses.

    ``learning_rate=None`` takes :data:`DEFAULT_LEARNING_RATE` of the solver;
    ``max_iter`` is the epoch count the cosine schedule spans; ``l1_weights`` (the
    L1 strength of every entry of x, or None) turns lbfgs into OWL-QN and gd into
    FISTA.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    lr = DEFAULT_LEARNING_RATE[solver] if learning_rate is None else learning_rate
    # The no-decrease rule must not fire before the gradient rule can: near the optimum
    # a step with gradient g decreases J by about |g|^2 (relative), so a tol below
    # sqrt(64 eps) ~ 1.2e-7 also lowers ftol (scikit-learn's 64 eps for the usual tol).
    ftol = min(64 * np.finfo(float).eps, float(tol) ** 2)
    if l1_weights is not None:
        check_l1_solver(solver)
    if solver == "lbfgs":
        if l1_weights is not None:
            return OWLQN(objective, x0, l1_weights, gtol=tol, ftol=ftol)
        return LBFGS(objective, x0, gtol=tol, ftol=ftol)
    if solver == "gd":
        if l1_weights is not None:
            return FISTA(objective, x0, l1_weights, learning_rate=lr, gtol=tol, ftol=ftol)
        return GradientDescent(objective, x0, learning_rate=lr, gtol=tol, ftol=ftol)
    common = dict(batch_size=batch_size, learning_rate=lr, lr_schedule=lr_schedule,
                  max_epochs=max_iter, random_state=random_state)
    if solver == "sgd":
        return SGD(objective, x0, momentum=momentum, nesterov=nesterov, **common)
    return Adam(objective, x0, **common)


def optimizer_for(params, objective, x0, random_state):
    """:func:`make_optimizer` with the hyperparameters of ``params`` (any object with
    the estimator's attributes)."""
    return make_optimizer(
        params.solver, objective, x0, tol=params.tol, learning_rate=params.learning_rate,
        batch_size=params.batch_size, lr_schedule=params.lr_schedule, momentum=params.momentum,
        nesterov=params.nesterov, max_iter=params.max_iter, random_state=random_state,
        l1_weights=objective.l1_weights)
