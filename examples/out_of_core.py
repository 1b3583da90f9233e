"""Data larger than memory: fit straight from a memory-mapped .npy file (never copied), or stream it in
chunks with fastgd.fit_stream.  The file here is small so that the example runs anywhere:

    python examples/out_of_core.py [ROWS]
"""

import os
import sys
import tempfile

import numpy as np

import fastgd

rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000


def chunks(X, y, size=50_000):
    for start in range(0, X.shape[0], size):
        yield np.asarray(X[start : start + size]), np.asarray(y[start : start + size])


with tempfile.TemporaryDirectory() as folder:  # the files are removed at the end
    X, y = fastgd.make_linear(rows, 10, dtype=np.float32, random_state=0)
    np.save(os.path.join(folder, "X.npy"), X)
    np.save(os.path.join(folder, "y.npy"), y)
    del X, y

    X = np.load(os.path.join(folder, "X.npy"), mmap_mode="r")  # pages are read as the kernels touch them
    y = np.load(os.path.join(folder, "y.npy"), mmap_mode="r")
    in_place = fastgd.fit(X, y, method="sgd", shuffle="blocks", max_epochs=3, tol=0, random_state=0)
    print(f"memory-mapped, 3 epochs of SGD: MSE {in_place.loss:.5f}")

    streamed = fastgd.fit_stream(chunks(X, y), method="minibatch", batch_size=64, learning_rate=0.01, random_state=0)
    print(f"streamed in chunks, one pass of mini-batch GD: MSE {streamed.loss:.5f} on the last chunk")
    exact = fastgd.fit(X, y, method="normal")
    print(f"normal equation (one read of the file): MSE {exact.loss:.5f}")
    del X, y  # the memory maps, before their files go
