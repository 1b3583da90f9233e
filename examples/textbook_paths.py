"""The textbook experiment: batch, stochastic and mini-batch gradient descent on y = 4 + 3x + noise,
side by side with the normal equation, and the picture of their paths (needs matplotlib).

    python examples/textbook_paths.py [OUT.png]
"""

import sys

import fastgd

X, y = fastgd.make_linear(100, random_state=42)  # m = 100, X = 2·U(0, 1), y = 4 + 3x + N(0, 1)

exact = fastgd.fit(X, y, method="normal")
fits = {
    "batch": fastgd.fit(
        X, y, method="batch", learning_rate=0.1, max_epochs=1000, record_path="update", random_state=42
    ),
    "sgd": fastgd.fit(
        X, y, method="sgd", learning_rate=fastgd.schedules.inverse_time(5, 50), max_epochs=50, tol=0,
        record_path="update", random_state=42,
    ),
    "minibatch": fastgd.fit(
        X, y, method="minibatch", batch_size=20, learning_rate=fastgd.schedules.inverse_time(200, 1000),
        max_epochs=50, tol=0, record_path="update", random_state=42,
    ),
}  # fmt: skip
print(f"normal equation: theta = {exact.theta}")
for name, res in fits.items():
    print(f"{name:>9}: theta = {res.theta}, MSE {res.loss:.6f} ({res.loss / exact.loss - 1:+.1e} vs the optimum)")

try:
    import matplotlib
except ImportError:
    sys.exit(0)
matplotlib.use("Agg")
import fastgd.plot  # noqa: E402

ax = fastgd.plot.paths(fits, X, y, zoom=True)  # the whole run, and beside it the region near the optimum
out = sys.argv[1] if len(sys.argv) > 1 else "textbook_paths.png"
ax.figure.savefig(out, dpi=100)
print(f"wrote {out}")
