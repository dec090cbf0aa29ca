"""backprop-tui's terminal monitor (Textual). Import the engine first: it pins BLAS to one thread."""
import engine  # noqa: F401  (sets OPENBLAS_NUM_THREADS before numpy loads)
