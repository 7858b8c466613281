"""Tunables of the compiled kernels, kept in one place.

Changing a value here changes performance, never results, with one exception that
is documented where it matters: the row partition (``BLOCK_ROWS``, ``MAX_CHUNKS``,
``MIN_CHUNK_ROWS``, ``MAX_CHUNK_ROWS``) fixes the order of floating-point summation. It depends only on the data's shape, never on the thread count, which is
what makes the loss and gradient bitwise identical for any number of threads.
"""

# LLVM fast-math flags for the CPU kernels. ``reassoc`` and ``contract`` let LLVM
# vectorize the dot products and fuse multiply-adds; ``nnan`` and ``ninf`` are left
# out on purpose so that inf/NaN still propagate and can be checked.
FASTMATH = {"reassoc", "contract", "nsz", "arcp", "afn"}

# Rows handled together: a block of X stays in L2 between the logits pass and the
# gradient pass, so X is read from memory once per evaluation.
BLOCK_ROWS = 64

# Calls of fewer multiply-adds than this (rows x features x coef rows; sparse: nonzeros
# x coef rows) run on one thread: a parallel launch costs more (softmax_nb.kernels).
SERIAL_WORK = 2**20

# Rows are split into at most MAX_CHUNKS contiguous chunks of at least MIN_CHUNK_ROWS
# rows; each chunk owns a float64 gradient buffer and the buffers are summed in
# chunk order. CHUNK_BUFFER_BYTES bounds the memory of those buffers for large
# n_classes * n_features.
MAX_CHUNKS = 64
MIN_CHUNK_ROWS = 512
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
