"""Out-of-core: fit a float32 .npy file of several GB (a) memory-mapped in place and (b) streamed in
chunks read from the file, and report the resident memory of the fitting process next to the
file's size.

    python bench/out_of_core.py [--rows 50000000] [--dir /tmp]

Resident memory is read from /proc/self/status every 50 ms in the fitting process: RssAnon (what
the process allocated: θ, the O(n) sample order, chunk buffers) and RssFile (file pages mapped
into it, i.e. the page cache of the memory map: the kernel may drop them at will, and they are not
a copy).  The file is written in blocks, so writing it needs little memory too.
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np

CHILD = r"""
import sys, threading, time, json
import numpy as np
import fastgd
peaks = {"RssAnon": 0, "RssFile": 0, "VmHWM": 0}
done = False
def sample():
    while not done:
        with open("/proc/self/status") as f:
            for line in f:
                key = line.split(":")[0]
                if key in peaks:
                    peaks[key] = max(peaks[key], int(line.split()[1]) * 1024)
        time.sleep(0.05)
threading.Thread(target=sample, daemon=True).start()
folder, how, d = sys.argv[1], sys.argv[2], int(sys.argv[3])
X = np.load(folder + "/X.npy", mmap_mode="r")
y = np.load(folder + "/y.npy", mmap_mode="r")
fastgd.fit(X[:5000], y[:5000], method="sgd", max_epochs=1, tol=0, random_state=0)  # compile outside the timing
start = time.perf_counter()
if how == "memmap":
    res = fastgd.fit(X, y, method="sgd", shuffle="blocks", max_epochs=1, tol=0, random_state=0,
                     learning_rate=fastgd.schedules.inverse_time(1.0, 1e6))
else:
    rows = 1_000_000
    offset = X.offset
    def chunks():
        with open(folder + "/X.npy", "rb") as fx:
            fx.seek(offset)
            for first in range(0, X.shape[0], rows):
                count = min(rows, X.shape[0] - first)
                block = np.empty((count, d), dtype=np.float32)
                fx.readinto(block)  # a plain read: nothing of the file stays mapped
                yield block, np.array(y[first:first + count])
    res = fastgd.fit_stream(chunks(), method="sgd", learning_rate=fastgd.schedules.inverse_time(1.0, 1e6),
                            random_state=0)
elapsed = time.perf_counter() - start
done = True
time.sleep(0.1)
print(json.dumps(dict(how=how, seconds=elapsed, loss=float(res.loss), **peaks)))
"""


def write(folder, rows, d, block=1_000_000):
    """X.npy (rows x d float32) and y.npy, written block by block: y = 4 + 3·Σx + N(0, 1)."""
    rng = np.random.default_rng(0)
    X = np.lib.format.open_memmap(os.path.join(folder, "X.npy"), mode="w+", dtype=np.float32, shape=(rows, d))
    y = np.lib.format.open_memmap(os.path.join(folder, "y.npy"), mode="w+", dtype=np.float32, shape=(rows,))
    for first in range(0, rows, block):
        part = 2 * rng.random((min(block, rows - first), d), dtype=np.float32)
        X[first : first + len(part)] = part
        y[first : first + len(part)] = 4 + 3 * part.sum(axis=1) + rng.standard_normal(len(part), dtype=np.float32)
    X.flush()
    y.flush()
    del X, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--d", type=int, default=20)
    parser.add_argument("--dir", default="/tmp")
    args = parser.parse_args()
    folder = os.path.join(args.dir, "fastgd-out-of-core")
    os.makedirs(folder, exist_ok=True)
    t = time.perf_counter()
    write(folder, args.rows, args.d)
    size = os.path.getsize(os.path.join(folder, "X.npy"))
    print(
        f"X.npy: {args.rows} x {args.d} float32 = {size / 2**30:.2f} GiB (written in {time.perf_counter() - t:.0f} s)"
    )
    print(f"{'how':<8} {'time':>8} {'loss':>9} {'RssAnon peak':>13} {'RssFile peak':>13} {'VmHWM':>9}")
    import json

    for how in ("memmap", "chunks"):
        out = subprocess.run([sys.executable, "-c", CHILD, folder, how, str(args.d)], capture_output=True, text=True)
        if out.returncode:
            sys.exit(out.stderr)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        gib = lambda b: f"{b / 2**30:.2f} GiB"  # noqa: E731
        print(f"{how:<8} {r['seconds']:>7.1f}s {r['loss']:>9.4f} {gib(r['RssAnon']):>13} {gib(r['RssFile']):>13} "
              f"{gib(r['VmHWM']):>9}")  # fmt: skip
    for name in ("X.npy", "y.npy"):
        os.remove(os.path.join(folder, name))


if __name__ == "__main__":
    main()
