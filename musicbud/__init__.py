import os

# Scoring one user is a single matrix-vector product: OpenBLAS threads only add contention there
# (measured 2.7 ms with one thread against 11 ms with two on a busy 2-core machine). Set before numpy
# loads; an operator can still override it in the environment.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
