r"""The L-BFGS two-loop recursion, compiled.

L-BFGS keeps the last m steps s_i = x_{i+1} - x_i and gradient changes
y_i = g_{i+1} - g_i (oldest first) and applies the inverse Hessian estimate H they
define to a vector q (Nocedal & Wright, Algorithm 7.4), with rho_i = 1 / (y_i . s_i):

    for i = m-1 .. 0:  alpha_i = rho_i s_i . q;   q <- q - alpha_i y_i
    q <- gamma q,      gamma = s_{m-1} . y_{m-1} / (y_{m-1} . y_{m-1})
    for i = 0 .. m-1:  beta_i = rho_i y_i . q;    q <- q + (alpha_i - beta_i) s_i

The pairs live in the rows of two (m, n) ring arrays, pair i (oldest first) in row
``(first + i) % m``. Each iteration of a fit runs it once; in NumPy it was 7m + 3 calls
on parameter-sized vectors, most of an iteration on wine-sized models (a wine fit of 16
iterations took 3.9 ms with them, 2.9 ms with this).
Dot products are summed in a fixed order (vectorized by LLVM; ``reassoc``), so a fit
stays bitwise reproducible.
"""

import numpy as np
from numba import njit

# The kernels' flags (tunables.FASTMATH) but "arcp" and "afn": rho and gamma are
# divisions, computed as such, as in the NumPy recursion this replaced.
_JIT = dict(cache=True, fastmath={"reassoc", "contract", "nsz"}, nogil=True)


@njit(**_JIT)
def _dot(a, b):
    total = 0.0
    for j in range(a.size):
        total += a[j] * b[j]
    return total


@njit(**_JIT)
def _inverse_hessian_times(q, s_ring, y_ring, first, count):
    """q <- H q in place, H the estimate of ``count`` >= 1 pairs (module docstring)."""
    memory = s_ring.shape[0]
    rhos = np.empty(count)
    alphas = np.empty(count)
    for i in range(count - 1, -1, -1):
        s = s_ring[(first + i) % memory]
        y = y_ring[(first + i) % memory]
        rhos[i] = 1.0 / _dot(y, s)
        alphas[i] = rhos[i] * _dot(s, q)
        for j in range(q.size):
            q[j] -= alphas[i] * y[j]
    last = (first + count - 1) % memory
    gamma = _dot(s_ring[last], y_ring[last]) / _dot(y_ring[last], y_ring[last])
    for j in range(q.size):
        q[j] *= gamma
    for i in range(count):
        s = s_ring[(first + i) % memory]
        y = y_ring[(first + i) % memory]
        step = alphas[i] - rhos[i] * _dot(y, q)
        for j in range(q.size):
            q[j] += step * s[j]


class PairMemory:
    """The last ``memory`` (s, y) pairs of an L-BFGS fit, in two ring arrays.

    ``times(g)`` is H g (module docstring); without pairs, g scaled to at most unit
    length (H's scale is not known yet). ``arrays(n)`` and ``load`` give and take the
    pairs oldest first, as (count, n) arrays (the checkpoint format).
    """

    def __init__(self, memory):
        self.memory = int(memory)
        self._s = self._y = None
        self.first = 0
        self.count = 0

    def __len__(self):
        return self.count

    def clear(self):
        self.first = self.count = 0

    def append(self, s, y):
        """Keep the pair (s, y), the oldest out when the memory is full."""
        if np.shape(s) != np.shape(y) or np.ndim(s) != 1:
            raise ValueError(f"an (s, y) pair needs two vectors of one size, got {np.shape(s)} and {np.shape(y)}")
        if self._s is None:
            self._s = np.empty((self.memory, np.size(s)))
            self._y = np.empty((self.memory, np.size(s)))
        elif self._s.shape[1] != np.size(s):
            raise ValueError(f"the pairs have {self._s.shape[1]} entries, got {np.size(s)}")
        row = (self.first + self.count) % self.memory
        if self.count == self.memory:
            self.first = (self.first + 1) % self.memory
        else:
            self.count += 1
        self._s[row] = s
        self._y[row] = y

    def arrays(self, size):
        """The pairs, oldest first: two (count, size) arrays (copies)."""
        if self._s is None:
            return np.empty((0, size)), np.empty((0, size))
        rows = [(self.first + i) % self.memory for i in range(self.count)]
        return self._s[rows], self._y[rows]

    def load(self, s_pairs, y_pairs):
        self.clear()
        for s, y in zip(s_pairs, y_pairs):
            self.append(np.asarray(s, dtype=np.float64), np.asarray(y, dtype=np.float64))

    def times(self, grad):
        if self.count == 0:
            return grad / max(np.linalg.norm(grad), 1.0)
        if np.shape(grad) != (self._s.shape[1],):
            raise ValueError(f"the pairs have {self._s.shape[1]} entries, got a vector of shape {np.shape(grad)}")
        q = np.array(grad, dtype=np.float64)
        _inverse_hessian_times(q, self._s, self._y, self.first, self.count)
        return q
