import os

# numpy's OpenBLAS runs every matrix product on a thread per core and keeps those threads
# spinning between products. Ours are small (a batch's embeddings against a tenant's
# examples), made by processes that already run threads of their own: the spinning took
# 60 % of an io worker's CPU (docs/performance.md, "One BLAS thread"). One thread,
# unless the environment says otherwise; set here, before anything imports numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from civicpulse.celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)
