"""Minimal reader/writer for (gzipped) IDX files such as Fashion-MNIST.

IDX layout (big-endian): 2 zero bytes, a dtype code (0x08 = uint8), the number of
dimensions, then one uint32 per dimension, then the raw data.
Images files are idx3 ([count, rows, cols] uint8), label files idx1 ([count] uint8).
"""

import gzip
import os
import struct

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"

_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _open(path, mode="rb"):
    return gzip.open(path, mode) if path.endswith(".gz") else open(path, mode)


def read_idx(path):
    """Read an IDX file (optionally .gz) into a numpy array."""
    with _open(path) as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic)")
    code, ndim = data[2], data[3]
    if code not in _DTYPES:
        raise ValueError(f"{path}: unknown IDX dtype code 0x{code:02x}")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    dtype = np.dtype(_DTYPES[code])
    n = int(np.prod(dims)) if ndim else 1
    off = 4 + 4 * ndim
    if len(data) - off != n * dtype.itemsize:
        raise ValueError(
            f"{path}: expected {n * dtype.itemsize} data bytes for shape {dims}, got {len(data) - off}"
        )
    return np.frombuffer(data, dtype=dtype, count=n, offset=off).reshape(dims)


def write_idx(path, array):
    """Write a uint8 array as an IDX file (gzipped when path ends in .gz).

    The gzip header mtime is fixed to 0 so the output is byte-reproducible.
    """
    a = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, a.ndim) + struct.pack(">" + "I" * a.ndim, *a.shape)
    payload = header + a.tobytes()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if path.endswith(".gz"):
        with open(path, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as g:
                g.write(payload)
    else:
        with open(path, "wb") as f:
            f.write(payload)


def load(split="train", root=DEFAULT_DIR):
    """Return (images uint8 [N,28,28], labels uint8 [N]) for split 'train' or 't10k'."""
    if split not in ("train", "t10k"):
        raise ValueError("split must be 'train' or 't10k'")
    images = read_idx(os.path.join(root, f"{split}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(root, f"{split}-labels-idx1-ubyte.gz"))
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{split}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels


CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
