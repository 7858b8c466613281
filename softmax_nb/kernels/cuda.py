r"""CUDA kernels of the softmax classifier: the ``numba.cuda`` twins of ``cpu.py``.

The math (logits, stable softmax, objective J, its gradient) is the one in the
``softmax_nb.kernels`` docstring, term for term: sample weights are divided by their
sum before any kernel runs, the L2 term is added on the host, the intercept is never
penalised, and label smoothing uses t_k = (1 - eps) [k == y] + eps / c.

Layout of the work
------------------
``DeviceData`` copies X, y and the (normalised) sample weights to the GPU once; each
evaluation then sends only coef (c x n, cast to X's dtype) and the intercept, and
brings back one float64 vector holding the gradient and the loss.

A block of ``THREADS_PER_BLOCK`` threads is split into groups of ``tunables.LANES_PER_ROW``
threads (a warp on a GPU); each group owns ``tunables.ROWS_PER_GROUP`` rows of a tile of
``T = THREADS_PER_BLOCK // tunables.LANES_PER_ROW * tunables.ROWS_PER_GROUP`` rows. Blocks walk over the
tiles with a grid-stride loop. For each tile:

1. logits: the lanes of a group stride over the features, so a warp reads X rows
   coalesced; each lane keeps partial dot products (in X's dtype) for its rows and
   every class, reusing each loaded coef entry for all the group's rows. The lanes'
   partials are summed through shared memory in lane order (float64).
2. softmax, loss and dloss/dlogits = s (p - t), one thread per row, in float64,
   subtracting the row maximum before ``exp``; the residuals overwrite the logits in
   shared memory.
3. gradient: every thread owns the features ``j = threadIdx + m * THREADS_PER_BLOCK``
   (and the intercept as a column of ones, ``j = n_features``) for the whole kernel
   and adds ``residual[r, k] * X[r, j]`` into float64 registers. The tile's rows were
   read in step 1 a moment earlier, so this second read hits the cache: X comes from
   memory once per evaluation.

Determinism
-----------
No float atomics anywhere. Each block writes its float64 partial sums (gradient,
intercept gradient, loss) to its own row of a ``(n_blocks, (n_features + 1) * c + 1)``
array; a second kernel adds the rows in block order, one thread per column. The
number of blocks depends only on the data's shape, the tunables and the GPU's
multiprocessor count, so results are bitwise identical run to run on one GPU (and may
differ in the last bits between GPU models with different multiprocessor counts).

Precision
---------
Dot products for the logits run in X's dtype, like the CPU kernels; softmax, loss
and every sum over samples run in float64. The gradient's multiply-adds are float64
too, which suits data-centre GPUs (FP64 at half the FP32 rate); on GPUs with slow
FP64 the float32 path becomes compute-bound.

Simulator
---------
Under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` set before numba.cuda is
first imported) ``cuda.is_available()`` is True and these kernels run, slowly, on
the CPU; ``device_name()`` then says ``"CUDA simulator"``. The tests use it with tiny
shapes and small tunables so that several blocks and tiles are exercised.
"""

import math

import numpy as np

from . import checks, tunables
from .penalty import L2Penalty

try:  # numba-cuda is an optional extra: importing this module must work without it
    from numba import cuda
except ImportError:  # pragma: no cover - depends on the installation
    cuda = None

# Tunables (threads per block, lanes per row, rows per group, class chunk, block
# limits) live in ``tunables`` with the CPU ones, read at call time so tests can patch them.

# Output modes of the prediction kernel.
_LOGITS, _PROBA, _LOG_PROBA, _LABELS = 0, 1, 2, 3


# ---------------------------------------------------------------------------
# Device discovery
# ---------------------------------------------------------------------------


def simulator_enabled():
    """Whether numba.cuda is numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``).

    Returns
    -------
    bool
        False also when numba-cuda is not installed.
    """
    if cuda is None:
        return False
    return cuda.jit.__module__.startswith("numba.cuda.simulator")


def cuda_available():
    """Whether the CUDA kernels can run here.

    Returns
    -------
    bool
        ``numba.cuda.is_available()``: True with a usable NVIDIA GPU and driver, and
        also under numba's CUDA simulator (see ``simulator_enabled``); False when
        numba-cuda is not installed or no GPU can be used.
    """
    if cuda is None:
        return False
    try:
        return bool(cuda.is_available())
    except Exception:  # a broken driver installation means "not available"
        return False


def device_name():
    """Name of the current CUDA device.

    Returns
    -------
    str
        For example ``"NVIDIA H100 80GB HBM3"``, or ``"CUDA simulator"``.

    Raises
    ------
    RuntimeError
        When no CUDA device can be used (see ``cuda_available``).
    """
    _require_cuda()
    if simulator_enabled():
        return "CUDA simulator"
    name = cuda.get_current_device().name
    return name.decode() if isinstance(name, bytes) else str(name)


def _require_cuda():
    if cuda is None:
        raise RuntimeError(
            "the CUDA backend needs numba-cuda: install it with pip install -e '.[cuda]'"
        )
    if not cuda_available():
        raise RuntimeError(
            "no usable CUDA GPU: numba.cuda.is_available() is False "
            "(no NVIDIA GPU or driver here); use device='cpu'"
        )


def _multiprocessor_count():
    if simulator_enabled():
        return 1
    return int(cuda.get_current_device().MULTIPROCESSOR_COUNT)


# ---------------------------------------------------------------------------
# Launch geometry
# ---------------------------------------------------------------------------


class _Geometry:
    """Threads per block, lanes per row and tile rows for one class count.

    Threads per block start at ``tunables.THREADS_PER_BLOCK`` and are halved (never
    below one lane group) until the block's shared memory fits
    ``tunables.SHARED_MEMORY_BYTES``; only very large class counts need that.
    """

    def __init__(self, n_classes):
        threads = int(tunables.THREADS_PER_BLOCK)
        lanes = min(int(tunables.LANES_PER_ROW), threads)
        rows_per_group = int(tunables.ROWS_PER_GROUP)
        # One thread per tile row runs the softmax, so a tile has at most as many
        # rows as the block has threads: ROWS_PER_GROUP <= LANES_PER_ROW.
        if threads < 1 or lanes < 1 or threads % lanes or not 1 <= rows_per_group <= lanes:
            raise ValueError(
                f"bad CUDA tunables: THREADS_PER_BLOCK={threads} must be a positive "
                f"multiple of LANES_PER_ROW={lanes}, and 1 <= ROWS_PER_GROUP="
                f"{rows_per_group} <= LANES_PER_ROW"
            )
        chunk = max(1, min(int(tunables.CLASS_CHUNK), lanes, rows_per_group * n_classes))
        while True:
            tile_rows = threads // lanes * rows_per_group
            shared = 8 * (threads * (chunk + 1) + tile_rows * n_classes + tile_rows)
            if shared <= tunables.SHARED_MEMORY_BYTES:
                break
            if threads // 2 < lanes or (threads // 2) % lanes:
                raise ValueError(
                    f"n_classes={n_classes} is too large for the CUDA kernels: one block "
                    f"needs {shared} bytes of shared memory, more than {tunables.SHARED_MEMORY_BYTES}"
                )
            threads //= 2
        self.threads = threads
        self.lanes = lanes
        self.rows_per_group = rows_per_group
        self.chunk = chunk
        self.tile_rows = tile_rows

    def key(self):
        return (self.threads, self.lanes, self.rows_per_group, self.chunk)


def _loss_blocks(n_samples, tile_rows):
    """Blocks of the loss kernel: fixed by the shape, tunables and GPU, never by timing."""
    n_tiles = -(-n_samples // tile_rows)
    cap = tunables.MAX_BLOCKS if tunables.MAX_BLOCKS is not None else tunables.BLOCKS_PER_SM * _multiprocessor_count()
    return int(max(1, min(n_tiles, cap)))


# ---------------------------------------------------------------------------
# Kernel factories: class count, features per thread and block shape are
# compile-time constants (local and shared array sizes), so kernels are built and
# cached per combination.
# ---------------------------------------------------------------------------

_KERNELS = {}


def _tile_logits_function(np_dtype, n_classes, geometry):
    """Device function: float64 logits of one tile into shared memory."""
    key = ("tile_logits", np.dtype(np_dtype).str, n_classes) + geometry.key()
    if key in _KERNELS:
        return _KERNELS[key]
    C = n_classes
    G = geometry.lanes
    RB = geometry.rows_per_group
    KCH = geometry.chunk
    CR = C * RB

    @cuda.jit(device=True)
    def tile_logits(X, coef, intercept, row0, n_rows, partial, xs, lane_sums, logits):
        """logits[r, k] = X[row0 + r] . coef[k] + intercept[k] for the tile's rows.

        All threads of the block must call it; it ends with a barrier, after which
        ``logits`` (shared, float64) is complete. Rows past ``n_rows`` get the
        intercept alone and must be ignored by the caller.
        """
        t = cuda.threadIdx.x
        group = t // G
        lane = t - group * G
        first = group * RB
        n_features = X.shape[1]
        for q in range(CR):
            partial[q] = 0
        # The group's lanes stride over the features: a warp reads a row coalesced.
        for j in range(lane, n_features, G):
            for rb in range(RB):
                r = first + rb
                if r < n_rows:
                    xs[rb] = X[row0 + r, j]
                else:
                    xs[rb] = 0
            for k in range(C):
                w = coef[k, j]
                for rb in range(RB):
                    partial[rb * C + k] += xs[rb] * w
        # Sum the lanes' partials in lane order (fixed), tunables.CLASS_CHUNK columns per round.
        base = group * G
        for q0 in range(0, CR, KCH):
            for q in range(KCH):
                if q0 + q < CR:
                    lane_sums[t, q] = partial[q0 + q]
            cuda.syncthreads()
            q = q0 + lane
            if lane < KCH and q < CR:
                total = 0.0
                for i in range(G):
                    total += lane_sums[base + i, lane]
                rb = q // C
                k = q - rb * C
                logits[first + rb, k] = total + intercept[k]
            cuda.syncthreads()

    _KERNELS[key] = tile_logits
    return tile_logits


def _loss_gradient_kernel(np_dtype, n_classes, features_per_thread, geometry):
    """Fused kernel: per-block partial sums of loss, coef and intercept gradients."""
    from numba import float64, from_dtype

    key = ("loss_gradient", np.dtype(np_dtype).str, n_classes, features_per_thread)
    key += geometry.key()
    if key in _KERNELS:
        return _KERNELS[key]
    tile_logits = _tile_logits_function(np_dtype, n_classes, geometry)
    x_type = from_dtype(np.dtype(np_dtype))
    C = n_classes
    TPB = geometry.threads
    RB = geometry.rows_per_group
    T = geometry.tile_rows
    KCH1 = geometry.chunk + 1  # one column of padding: no shared-memory bank conflicts
    CR = C * RB
    FPT = features_per_thread
    FC = FPT * C

    @cuda.jit
    def loss_gradient_partials(X, y, sample_weight, coef, intercept, on_target,
                               off_target, partials):
        t = cuda.threadIdx.x
        block = cuda.blockIdx.x
        n_blocks = cuda.gridDim.x
        n_samples, n_features = X.shape
        partial = cuda.local.array(CR, x_type)
        xs = cuda.local.array(RB, x_type)
        grad = cuda.local.array(FC, float64)
        residual = cuda.local.array(C, float64)
        lane_sums = cuda.shared.array((TPB, KCH1), float64)
        logits = cuda.shared.array((T, C), float64)
        row_losses = cuda.shared.array(T, float64)
        for q in range(FC):
            grad[q] = 0.0
        loss = 0.0
        n_tiles = (n_samples + T - 1) // T
        for tile in range(block, n_tiles, n_blocks):
            row0 = tile * T
            n_rows = min(T, n_samples - row0)
            tile_logits(X, coef, intercept, row0, n_rows, partial, xs, lane_sums, logits)
            if t < n_rows:
                i = row0 + t
                a_max = logits[t, 0]
                for k in range(1, C):
                    a_max = max(a_max, logits[t, k])
                label = y[i]
                a_label = logits[t, label]
                exp_sum = 0.0
                gap_sum = 0.0
                for k in range(C):
                    a_k = logits[t, k]
                    # exp(a_k - a_max) <= 1: no overflow whatever the logits
                    e = math.exp(a_k - a_max)
                    logits[t, k] = e
                    exp_sum += e
                    gap_sum += a_max - a_k
                s = sample_weight[i]
                # loss_i = log(sum_k exp(a_k - a_max)) + sum_k t_k (a_max - a_k)
                loss += s * (
                    math.log(exp_sum) + on_target * (a_max - a_label) + off_target * gap_sum
                )
                inv_sum = 1.0 / exp_sum
                for k in range(C):
                    target = off_target + on_target if k == label else off_target
                    # gradient_k = s (p_k - t_k), overwriting the logits
                    logits[t, k] = s * (logits[t, k] * inv_sum - target)
            cuda.syncthreads()
            # Each thread adds the tile's rows into the features it owns; the rows
            # are in cache from the logits step.
            for r in range(n_rows):
                for k in range(C):
                    residual[k] = logits[r, k]
                for m in range(FPT):
                    j = t + m * TPB
                    if j < n_features:
                        x = float64(X[row0 + r, j])
                    elif j == n_features:
                        x = 1.0  # the intercept is a column of ones
                    else:
                        break
                    for k in range(C):
                        grad[m * C + k] += residual[k] * x
            cuda.syncthreads()  # the logits buffer is reused by the next tile
        for m in range(FPT):
            j = t + m * TPB
            if j <= n_features:
                for k in range(C):
                    partials[block, j * C + k] = grad[m * C + k]
        if t < T:
            row_losses[t] = loss
        cuda.syncthreads()
        if t == 0:
            total = 0.0
            for r in range(T):
                total += row_losses[r]
            partials[block, (n_features + 1) * C] = total

    _KERNELS[key] = loss_gradient_partials
    return loss_gradient_partials


def _reduce_kernel():
    """Column sums of the per-block partials, adding blocks in index order."""
    key = ("reduce",)
    if key in _KERNELS:
        return _KERNELS[key]

    @cuda.jit
    def reduce_partials(partials, out):
        start = cuda.grid(1)
        stride = cuda.gridsize(1)
        n_blocks, width = partials.shape
        for col in range(start, width, stride):
            total = 0.0
            for b in range(n_blocks):
                total += partials[b, col]
            out[col] = total

    _KERNELS[key] = reduce_partials
    return reduce_partials


def _prediction_kernel(np_dtype, n_classes, geometry):
    """Logits, probabilities, log-probabilities or labels, row by row."""
    key = ("predict", np.dtype(np_dtype).str, n_classes) + geometry.key()
    if key in _KERNELS:
        return _KERNELS[key]
    from numba import float64, from_dtype

    tile_logits = _tile_logits_function(np_dtype, n_classes, geometry)
    x_type = from_dtype(np.dtype(np_dtype))
    C = n_classes
    TPB = geometry.threads
    RB = geometry.rows_per_group
    T = geometry.tile_rows
    KCH1 = geometry.chunk + 1
    CR = C * RB

    @cuda.jit
    def predict_rows(X, coef, intercept, mode, out, labels):
        t = cuda.threadIdx.x
        n_samples = X.shape[0]
        partial = cuda.local.array(CR, x_type)
        xs = cuda.local.array(RB, x_type)
        lane_sums = cuda.shared.array((TPB, KCH1), float64)
        logits = cuda.shared.array((T, C), float64)
        n_tiles = (n_samples + T - 1) // T
        for tile in range(cuda.blockIdx.x, n_tiles, cuda.gridDim.x):
            row0 = tile * T
            n_rows = min(T, n_samples - row0)
            tile_logits(X, coef, intercept, row0, n_rows, partial, xs, lane_sums, logits)
            if t < n_rows:
                i = row0 + t
                if mode == 0:
                    for k in range(C):
                        out[i, k] = logits[t, k]
                elif mode == 3:
                    best = 0
                    for k in range(1, C):
                        if logits[t, k] > logits[t, best]:  # first maximum on ties
                            best = k
                    labels[i] = best
                else:
                    a_max = logits[t, 0]
                    for k in range(1, C):
                        a_max = max(a_max, logits[t, k])
                    exp_sum = 0.0
                    for k in range(C):
                        exp_sum += math.exp(logits[t, k] - a_max)
                    if mode == 2:
                        log_sum = math.log(exp_sum)
                        for k in range(C):
                            out[i, k] = (logits[t, k] - a_max) - log_sum
                    else:
                        inv_sum = 1.0 / exp_sum
                        for k in range(C):
                            out[i, k] = math.exp(logits[t, k] - a_max) * inv_sum
            cuda.syncthreads()  # the logits buffer is reused by the next tile

    _KERNELS[key] = predict_rows
    return predict_rows


# ---------------------------------------------------------------------------
# Data on the device
# ---------------------------------------------------------------------------


class DeviceData:
    """X, y and sample weights copied to the GPU once, for many evaluations.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        Copied as is (a non-contiguous view is made contiguous first; never upcast).
    y : ndarray of shape (n_samples,) or None
        Integer class indices; needed by ``gpu_loss_gradient`` only.
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights with a positive sum. They are divided by their sum on
        the host (None means 1 / n_samples each), exactly as the CPU kernels do.

    Attributes
    ----------
    device_X, device_y, device_sample_weight : numba.cuda device arrays
        ``device_y`` and ``device_sample_weight`` are None when ``y`` is None.
    n_samples, n_features : int
    dtype : numpy.dtype
        X's dtype, which is also the dtype of predictions.
    y_max : int
        Largest class index in y (-1 when y is None).

    Raises
    ------
    RuntimeError
        When no CUDA device can be used.
    """

    def __init__(self, X, y=None, sample_weight=None):
        _require_cuda()
        X = checks.check_X(X, allow_empty=False)
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        self.device_y = None
        self.device_sample_weight = None
        self.y_max = -1
        if y is not None:
            y = checks.check_labels(y, self.n_samples)
            self.y_max = int(y.max())
            weights = checks.normalized_sample_weight(sample_weight, self.n_samples)
            self.device_y = cuda.to_device(y)
            self.device_sample_weight = cuda.to_device(weights)
        elif sample_weight is not None:
            raise ValueError("sample_weight needs y: it weights the loss, not predictions")
        self.device_X = cuda.to_device(X)
        self._buffers = {}

    def _buffer(self, shape):
        """Device float64 scratch arrays, allocated once per shape."""
        if shape not in self._buffers:
            self._buffers[shape] = cuda.device_array(shape, dtype=np.float64)
        return self._buffers[shape]


def _device_params(data, coef, intercept):
    coef, intercept_64 = checks.check_coef_intercept(coef, intercept, data.n_features)
    n_classes = coef.shape[0]
    # Dot products run in X's dtype, as on the CPU; the intercept stays float64.
    device_coef = cuda.to_device(np.ascontiguousarray(coef, dtype=data.dtype))
    device_intercept = cuda.to_device(np.ascontiguousarray(intercept_64))
    return n_classes, device_coef, device_intercept


def gpu_loss_gradient(data, coef, intercept, l2_reg_strength=0.0, label_smoothing=0.0):
    """Objective J and its gradient on the GPU, over data already on the device.

    Same semantics as ``softmax_nb.kernels.loss_gradient`` (see its module docstring);
    the reduction over samples is deterministic.

    Parameters
    ----------
    data : DeviceData
        Built with y (and optionally sample_weight).
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
        None means no intercept (and no intercept gradient).
    l2_reg_strength : float
        lambda in ``lambda/2 ||coef||^2``.
    label_smoothing : float in [0, 1)

    Returns
    -------
    loss : float
    grad_coef : ndarray of shape (n_classes, n_features), float64
    grad_intercept : ndarray of shape (n_classes,), float64, or None
    """
    if not isinstance(data, DeviceData):
        raise TypeError(f"data must be a DeviceData, got {type(data).__name__}")
    if data.device_y is None:
        raise ValueError("data has no labels: build DeviceData(X, y, sample_weight)")
    label_smoothing = checks.check_label_smoothing(label_smoothing)
    if np.shape(coef)[0] == 1:
        # The binary log-odds model runs as its softmax twin; dJ/dw is row 1's gradient.
        twin_coef, twin_intercept = checks.softmax_twin(coef, intercept)
        loss, grad_coef, grad_intercept = gpu_loss_gradient(data, twin_coef, twin_intercept, 0.0,
                                                            label_smoothing)
        grad_coef = np.ascontiguousarray(grad_coef[1:])
        loss = L2Penalty(l2_reg_strength).add_to(loss, grad_coef, coef)
        return loss, grad_coef, (grad_intercept[1:].copy() if intercept is not None else None)
    n_classes, device_coef, device_intercept = _device_params(data, coef, intercept)
    if data.y_max >= n_classes:
        raise ValueError(
            f"y must hold class indices in [0, {n_classes}), got a maximum of {data.y_max}"
        )
    n_features = data.n_features
    geometry = _Geometry(n_classes)
    features_per_thread = -(-(n_features + 1) // geometry.threads)
    kernel = _loss_gradient_kernel(data.dtype, n_classes, features_per_thread, geometry)
    n_blocks = _loss_blocks(data.n_samples, geometry.tile_rows)
    width = (n_features + 1) * n_classes + 1
    partials = data._buffer((n_blocks, width))
    reduced = data._buffer((width,))
    kernel[n_blocks, geometry.threads](
        data.device_X,
        data.device_y,
        data.device_sample_weight,
        device_coef,
        device_intercept,
        1.0 - float(label_smoothing),
        float(label_smoothing) / n_classes,
        partials,
    )
    reduce_blocks = min(-(-width // tunables.REDUCE_THREADS), 1024)
    _reduce_kernel()[reduce_blocks, tunables.REDUCE_THREADS](partials, reduced)
    sums = reduced.copy_to_host()
    loss = float(sums[-1])
    by_feature = sums[:-1].reshape(n_features + 1, n_classes)
    grad_coef = np.ascontiguousarray(by_feature[:n_features].T)
    grad_intercept = by_feature[n_features].copy() if intercept is not None else None
    loss = L2Penalty(l2_reg_strength).add_to(loss, grad_coef, coef)
    return loss, grad_coef, grad_intercept


def _predict_on_device(X_or_data, coef, intercept, mode):
    if np.shape(coef)[0] == 1:
        # Binary log-odds model: its softmax twin's logits are [0, z].
        twin = _predict_on_device(X_or_data, *checks.softmax_twin(coef, intercept), mode)
        return np.ascontiguousarray(twin[:, 1:]) if mode == _LOGITS else twin
    data = X_or_data if isinstance(X_or_data, DeviceData) else DeviceData(X_or_data)
    n_classes, device_coef, device_intercept = _device_params(data, coef, intercept)
    geometry = _Geometry(n_classes)
    kernel = _prediction_kernel(data.dtype, n_classes, geometry)
    n_tiles = -(-data.n_samples // geometry.tile_rows)
    cap = tunables.MAX_BLOCKS if tunables.MAX_BLOCKS is not None else 8 * tunables.BLOCKS_PER_SM * _multiprocessor_count()
    n_blocks = int(max(1, min(n_tiles, cap)))
    if mode == _LABELS:
        out = cuda.device_array((1, n_classes), dtype=data.dtype)
        labels = cuda.device_array(data.n_samples, dtype=np.int64)
    else:
        out = cuda.device_array((data.n_samples, n_classes), dtype=data.dtype)
        labels = cuda.device_array(1, dtype=np.int64)
    kernel[n_blocks, geometry.threads](
        data.device_X, device_coef, device_intercept, mode, out, labels
    )
    return labels.copy_to_host() if mode == _LABELS else out.copy_to_host()


def gpu_decision_function(X_or_data, coef, intercept=None):
    """Logits ``X @ coef.T + intercept`` computed on the GPU.

    Parameters
    ----------
    X_or_data : ndarray of shape (n_samples, n_features) or DeviceData
        An ndarray is copied to the device for this call only.
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None

    Returns
    -------
    ndarray of shape (n_samples, n_classes), X's dtype, on the host
    """
    return _predict_on_device(X_or_data, coef, intercept, _LOGITS)


def gpu_predict_proba(X_or_data, coef, intercept=None):
    """Class probabilities (stable softmax of the logits) computed on the GPU.

    Parameters
    ----------
    X_or_data : ndarray of shape (n_samples, n_features) or DeviceData
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None

    Returns
    -------
    ndarray of shape (n_samples, n_classes), X's dtype, on the host
    """
    return _predict_on_device(X_or_data, coef, intercept, _PROBA)


def gpu_predict_log_proba(X_or_data, coef, intercept=None):
    """Log-probabilities ``a_k - logsumexp(a)`` computed on the GPU.

    Parameters
    ----------
    X_or_data : ndarray of shape (n_samples, n_features) or DeviceData
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None

    Returns
    -------
    ndarray of shape (n_samples, n_classes), X's dtype, on the host
    """
    return _predict_on_device(X_or_data, coef, intercept, _LOG_PROBA)


def gpu_predict(X_or_data, coef, intercept=None):
    """Index of the largest logit per row (the first on ties), computed on the GPU.

    Parameters
    ----------
    X_or_data : ndarray of shape (n_samples, n_features) or DeviceData
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None

    Returns
    -------
    ndarray of shape (n_samples,), int64, on the host
    """
    return _predict_on_device(X_or_data, coef, intercept, _LABELS)
