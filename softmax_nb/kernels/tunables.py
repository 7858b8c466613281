"""Tunables of the compiled kernels, kept in one place.

Changing a value here changes performance, never results, with one exception that
is documented where it matters: the row partition and the block products
(``BLOCK_ROWS``, ``MAX_CHUNKS``, ``MIN_CHUNK_ROWS``, ``MAX_CHUNK_ROWS``,
``CHUNK_SUMS_BYTES``, ``MIN_CHUNKS``, the ``BLAS_*`` values but ``BLAS_SERIAL_GEMM``) fix the order of
floating-point summation. They depend only on the data's shape, never on the thread
count, which is what makes the loss and gradient bitwise identical for any number of
threads.
"""

# LLVM fast-math flags for the CPU kernels. ``reassoc`` and ``contract`` let LLVM
# vectorize the dot products and fuse multiply-adds; ``nnan`` and ``ninf`` are left
# out on purpose so that inf/NaN still propagate and can be checked.
FASTMATH = {"reassoc", "contract", "nsz", "arcp", "afn"}

# Rows handled together: a block of X stays in L2 between the logits pass and the
# gradient pass, so X is read from memory once per evaluation.
BLOCK_ROWS = 64

# The block products are BLAS gemms (kernels.cpu.uses_blas) for coef of at least
# BLAS_MIN_CLASSES rows and BLAS_MIN_ENTRIES entries; binary and tiny models keep the
# register-blocked loops (iris, wine: the loops were 1.1-1.3x faster).
BLAS_MIN_CLASSES = 3
BLAS_MIN_ENTRIES = 128
# Rows per block on that path (kernels.cpu.block_rows): gemms of at most
# BLAS_SMALL_GEMM multiply-adds (by X's dtype) run in OpenBLAS's small-matrix kernels
# (no packing); blocks shrink to BLAS_MIN_BLOCK_ROWS rows to stay below it, else they
# have BLAS_BLOCK_ROWS rows, which pays for the packing. Measured on AVX-512 OpenBLAS
# (its "SkylakeX" kernels on Zen 4); these also fix summation order, like BLOCK_ROWS.
BLAS_SMALL_GEMM = {"float32": 10**6, "float64": 8 * 10**5}
BLAS_MIN_BLOCK_ROWS = 16
BLAS_BLOCK_ROWS = 512
# A block of rows of X of TOUCH_MIN_BYTES to TOUCH_MAX_BYTES is read in order before its
# products (kernels.cpu._touch_rows): a gemm, or the loops, read a block in many short
# runs at once, which the hardware prefetchers follow poorly. 60000 x 784 x 10 float32
# (the gemms, 64-row blocks of 200 KiB), loss + gradient at 1 / 2 threads: 40.7 / 22.5 ms
# before, 28.7 / 16.2 ms after; 100000 x 128 x 2 (the loops, 32 KiB blocks), one run:
# 9.3 / 7.4 ms before, 8.0 / 5.5 ms after. Smaller blocks were already prefetched
# (500000 x 16 x 26: no gain); a larger block (512 rows of 1024 features: 2 MiB) does
# not stay in L2 and was 2-10 % slower. Reads only: no result changes.
TOUCH_MIN_BYTES = 16 * 2**10
TOUCH_MAX_BYTES = 512 * 2**10
# OpenBLAS runs a gemm of at most this many multiply-adds on the calling thread (its
# SMP_THRESHOLD_MIN x GEMM_MULTITHREAD_THRESHOLD): calls no larger in all need no limit.
BLAS_SERIAL_GEMM = 65536 * 4

# Loss + gradient calls of fewer multiply-adds than this (rows x features x coef rows;
# sparse: nonzeros x coef rows) run on one thread (softmax_nb.kernels), and so does a loss
# on at most MIN_CHUNK_ROWS rows (one chunk: nothing to share). In a loop on an idle
# 2-core machine two threads were faster from ~2^18 on (2000 x 50 x 5: 179 against 200
# us; 4000 x 30 x 4: 183 against 310 us; CSR 4000 x 1000 x 5 at 2 % nonzeros: 945 against
# 1236 us), but a fit right after other NumPy work is what a user runs: a digits fit
# (1347 x 64 x 10) right after scikit-learn's took 78 ms with a 2^18 threshold and 48 ms
# with this one (idle: 35 and 46 ms). A thread that shares its core with OpenBLAS's
# spinning workers holds up the whole parallel call.
SERIAL_WORK = 2**20
# The same for predictions: their parallel loop is over blocks of rows, and two
# threads were faster from ~2^18 multiply-adds on (1000 x 50 x 5: 80 against 138 us).
SERIAL_PREDICT_WORK = 2**18

# Rows are split into at most MAX_CHUNKS contiguous chunks of at least MIN_CHUNK_ROWS
# rows; each chunk owns a float64 gradient buffer and the buffers are summed in
# chunk order. CHUNK_BUFFER_BYTES bounds the memory of those buffers for large
# n_classes * n_features.
MAX_CHUNKS = 64
MIN_CHUNK_ROWS = 512
# Fewer chunks for a large gradient: at most the power of two whose float64 sums fit in
# CHUNK_SUMS_BYTES, never fewer than MIN_CHUNKS (kernels.cpu._n_chunks). Part of the
# partition, like the three above. The cost: chunks are the parallel work, so a model
# of 2^20 or more coef entries uses at most MIN_CHUNKS threads and MPI ranks (up to
# MIN_CHUNKS x MAX_CHUNK_ROWS rows). Tuned on 2 cores; CSR kernels keep no per-chunk
# gradient and ignore both (kernels.cpu.row_chunk_bounds).
CHUNK_SUMS_BYTES = 64 * 2**20
MIN_CHUNKS = 8
# Very long data (over MAX_CHUNKS x MAX_CHUNK_ROWS rows) gets chunks of at most this many
# rows instead: more chunks, so that more MPI ranks can share them (model.distributed).
MAX_CHUNK_ROWS = 2**20
# At most this many bytes of partial sums at once: chunks are summed in batches (whole
# subtrees of the summation tree), which bounds memory without changing the bits.
CHUNK_BUFFER_BYTES = 256 * 2**20

# CUDA: threads per block of the GPU kernels (tests patch this small so that several
# blocks run on the simulator).
THREADS_PER_BLOCK = 256
# Lanes that share one row in the logits step: a warp, so X rows are read coalesced.
LANES_PER_ROW = 32
# Rows per lane group: each coef entry loaded from cache serves this many rows.
# Two keeps the float32 loss kernel within 255 registers without spills for up to
# 1023 features at 256 threads (ptxas, sm_90, 10 classes).
ROWS_PER_GROUP = 2
# Classes whose per-lane partial logits are summed per round through shared memory.
CLASS_CHUNK = 16
# Blocks per multiprocessor for the loss kernel. The kernel keeps each thread's
# gradient slice in registers (ptxas reports about 220-255 per thread for 784
# features and 10 classes), so one 256-thread block fills a multiprocessor's register
# file: more blocks would only queue, and each adds a row of partial sums.
BLOCKS_PER_SM = 1
# Upper bound on the loss kernel's blocks (None: BLOCKS_PER_SM x multiprocessors).
MAX_BLOCKS = None
# Static shared memory available to one block without an opt-in.
SHARED_MEMORY_BYTES = 48 * 1024
# Threads per block of the partial-sum reduction kernel.
REDUCE_THREADS = 256
