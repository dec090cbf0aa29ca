"""backprop-tui's engine: a neural network from scratch in NumPy, with error backpropagation."""
import os

# One BLAS thread: the matrices here are tiny, and on a 2-core machine a thread
# pool per matmul made training steps several times slower. Only effective when
# numpy has not been imported yet; a value the user set is kept.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from .network import Network, TwoLayerNet  # noqa: E402

__all__ = ["Network", "TwoLayerNet"]
