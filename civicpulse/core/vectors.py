"""Text embeddings as the database keeps them: float16 bytes, 512 for the 256 dimensions
of the model llm.embeddings loads. Here, below every app, so the app that makes vectors
(llm) and the one that compares stored ones (issues) agree on one format without
importing each other."""

import numpy as np

DIMENSIONS = 256
# float16 moves a cosine between unit vectors by less than 1e-3 against float32.
_STORED_DTYPE = np.float16


def pack(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=_STORED_DTYPE).tobytes()


def unpack(data: bytes | memoryview | None) -> np.ndarray | None:
    """A stored vector back, or None for a missing or foreign-sized one (a row written by
    another model is ignored rather than compared)."""
    if not data:
        return None
    raw = bytes(data)
    if len(raw) != DIMENSIONS * np.dtype(_STORED_DTYPE).itemsize:
        return None
    return np.frombuffer(raw, dtype=_STORED_DTYPE).astype(np.float32)


def cosine(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    """Cosine of two unit vectors; None when either is missing or blank (a blank text is
    the zero vector, similar to nothing)."""
    if a is None or b is None or not np.any(a) or not np.any(b):
        return None
    return max(-1.0, min(1.0, float(a @ b)))


def stored_cosine(a: bytes | memoryview | None, b: bytes | memoryview | None) -> float | None:
    return cosine(unpack(a), unpack(b))
