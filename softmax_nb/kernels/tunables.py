"""Tunables of the compiled kernels, kept in one place.

Changing a value here changes performance, never results, with one exception that
is documented where it matters: the row partition (``BLOCK_ROWS``, ``MAX_CHUNKS``,
``MIN_CHUNK_ROWS``, ``CHUNK_BUFFER_BYTES``) fixes the order of floating-point
summation. It depends only on the data's shape, never on the thread count, which is
what makes the loss and gradient bitwise identical for any number of threads.
"""

# LLVM fast-math flags for the CPU kernels. ``reassoc`` and ``contract`` let LLVM
# vectorize the dot products and fuse multiply-adds; ``nnan`` and ``ninf`` are left
# out on purpose so that inf/NaN still propagate and can be checked.
FASTMATH = {"reassoc", "contract", "nsz", "arcp", "afn"}

# Rows handled together: a block of X stays in L2 between the logits pass and the
# gradient pass, so X is read from memory once per evaluation.
BLOCK_ROWS = 64

# Rows are split into at most MAX_CHUNKS contiguous chunks of at least MIN_CHUNK_ROWS
# rows; each chunk owns a float64 gradient buffer and the buffers are summed in
# chunk order. CHUNK_BUFFER_BYTES bounds the memory of those buffers for large
# n_classes * n_features.
MAX_CHUNKS = 64
MIN_CHUNK_ROWS = 512
CHUNK_BUFFER_BYTES = 256 * 2**20

# CUDA: threads per block of the GPU kernels (tests patch this small so that several
# blocks run on the simulator).
THREADS_PER_BLOCK = 256
