import os

# numpy's and scipy's OpenBLAS run every matrix product on a thread per core, and those
# threads spin for a while after each. Our products are small (a batch's embeddings
# against a tenant's examples), made by processes that already run threads of their own:
# the spinning took 60 % of the pipeline's CPU per report (docs/performance.md, "One BLAS
# thread"). One thread, unless the environment says otherwise; set here, before anything
# imports numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from civicpulse.celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)
