"""MNIST-1D generated from its templates with numpy alone (no torch): the one home of the generator, so that
``optimlab compare`` can make the lesson's data in a side process while torch is still importing."""

from __future__ import annotations

import random

import numpy as np

from .errors import ProblemError

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

LESSON_SAMPLES = 600
"""Examples generated for the lesson page's real network (:data:`optimlab.landscape.LESSON`); kept here, where no
torch is imported, so the command can start making them before torch has loaded."""


def generate_mnist1d(num_samples: int = 5000) -> Arrays:
    """``(x_train, y_train, x_test, y_test)`` (80/20 split), read-only, from the mnist1d package's generator.

    The generator reseeds Python's and NumPy's global random number generators; their states are restored
    afterwards so the caller's randomness is untouched.
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:
        raise ProblemError("MNIST-1D problems need the mnist1d package: pip install mnist1d") from exc
    args = get_dataset_args()
    args.num_samples = num_samples
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    arrays = (
        np.asarray(data["x"], dtype=np.float32),
        np.asarray(data["y"], dtype=np.int64),
        np.asarray(data["x_test"], dtype=np.float32),
        np.asarray(data["y_test"], dtype=np.int64),
    )
    for array in arrays:
        array.setflags(write=False)
    return arrays
