"""Rows 5a and 5b of ``fastgd bench``: a mini-batch epoch against a plain numpy mini-batch loop
and against torch on the CPU."""

import numpy as np

from .harness import BATCH_SIZE, MINIBATCH_ETA, Row, fit, mse_of, numpy_step, sgd_data, si, skipped, timed


def numpy_minibatch(X, y, eta, batch_size, orders):
    """Mini-batch GD in plain numpy, vectorized per batch: for each epoch's order, the rows
    permuted once (one gather), then θ -= η 2/b X_bᵀ(X_b θ - y_b) batch after batch."""
    coef, intercept = np.zeros(X.shape[1]), 0.0
    for order in orders:
        Xp, yp = X[order], y[order]
        for start in range(0, len(y), batch_size):
            intercept = numpy_step(Xp[start : start + batch_size], yp[start : start + batch_size], coef, intercept, eta)
    return intercept, coef


def _minibatch_fastgd(X, y, epochs, out):
    def run():
        out["fastgd"] = fit(
            X,
            y,
            method="minibatch",
            batch_size=BATCH_SIZE,
            learning_rate=MINIBATCH_ETA,
            max_epochs=epochs,
            tol=0,
            init="zeros",
            random_state=0,
        )

    return run


def bench_minibatch(ctx):
    """Row 5a: a mini-batch epoch against a plain numpy mini-batch loop."""
    n, d = ctx.sizes.sgd
    epochs = ctx.sizes.minibatch_epochs
    X, y = sgd_data(ctx)
    rng = np.random.default_rng(3)
    orders = [rng.permutation(n) for _ in range(epochs)]
    out = {}

    def run_numpy():
        out["numpy"] = numpy_minibatch(X, y, MINIBATCH_ETA, BATCH_SIZE, orders)

    med, times = timed(
        {"fastgd": _minibatch_fastgd(X, y, epochs, out), "numpy": run_numpy}, ctx.sizes.fit_repeats, ctx.sizes.settle_s
    )
    res = out["fastgd"]
    mse = {"fastgd": mse_of(X, y, res.intercept, res.coef), "numpy": mse_of(X, y, *out["numpy"])}
    rate = {key: n * epochs / t for key, t in med.items()}
    ratio = rate["fastgd"] / rate["numpy"]
    return [
        Row(
            "minibatch",
            f"mini-batch b={BATCH_SIZE} n={n} d={d} ×{epochs} ep",
            f"{si(rate['fastgd'], 'samples/s')}",
            f"numpy {si(rate['numpy'], 'samples/s')}",
            ratio,
            "≥ 3 × numpy loop",
            ratio >= 3,
            note=f"η={MINIBATCH_ETA:g}; MSE fastgd {mse['fastgd']:.6g}, numpy {mse['numpy']:.6g}",
            figures={
                "n": n,
                "d": d,
                "epochs": epochs,
                "batch_size": BATCH_SIZE,
                "eta": MINIBATCH_ETA,
                "median_s": med,
                "times_s": times,
                "samples_per_s": rate,
                "mse": mse,
            },
        )
    ]


def torch_minibatch(torch, Xt, yt, eta, batch_size, orders):
    """The same mini-batch GD in torch: nn.Linear + optim.SGD + MSELoss, float64 on the CPU."""
    model = torch.nn.Linear(Xt.shape[1], 1, dtype=torch.float64)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    optimizer = torch.optim.SGD(model.parameters(), lr=eta)
    loss_fn = torch.nn.MSELoss()
    for order in orders:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad()
            loss_fn(model(Xt[idx]), yt[idx]).backward()
            optimizer.step()
    return float(model.bias.detach()[0]), model.weight.detach().numpy()[0].copy()


def bench_torch(ctx):
    """Row 5b: a mini-batch epoch against torch on the CPU (run last: torch brings its own
    OpenMP threads, which must not disturb the other rows)."""
    n, d = ctx.sizes.sgd
    epochs = ctx.sizes.torch_epochs
    work, target = f"mini-batch b={BATCH_SIZE} n={n} d={d} ×{epochs} ep", "≥ 20 × torch CPU"
    try:
        import torch
    except ImportError as exc:
        return [skipped("torch", work, target, f"torch is not installed ({exc})")]
    X, y = sgd_data(ctx)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y).unsqueeze(1)
    gen = torch.Generator().manual_seed(3)
    orders = [torch.randperm(n, generator=gen) for _ in range(epochs)]
    out = {}

    def run_torch():
        out["torch"] = torch_minibatch(torch, Xt, yt, MINIBATCH_ETA, BATCH_SIZE, orders)

    med, times = timed(
        {"fastgd": _minibatch_fastgd(X, y, epochs, out), "torch": run_torch}, ctx.sizes.fit_repeats, ctx.sizes.settle_s
    )
    res = out["fastgd"]
    mse = {"fastgd": mse_of(X, y, res.intercept, res.coef), "torch": mse_of(X, y, *out["torch"])}
    rate = {key: n * epochs / t for key, t in med.items()}
    ratio = rate["fastgd"] / rate["torch"]
    return [
        Row(
            "torch",
            work,
            f"{si(rate['fastgd'], 'samples/s')}",
            f"torch {si(rate['torch'], 'samples/s')}",
            ratio,
            target,
            ratio >= 20,
            note=(
                f"torch {torch.__version__}, {torch.get_num_threads()} threads, float64; MSELoss = fastgd's loss, "
                f"same η={MINIBATCH_ETA:g}; MSE fastgd {mse['fastgd']:.6g}, torch {mse['torch']:.6g}"
            ),
            figures={
                "n": n,
                "d": d,
                "epochs": epochs,
                "torch_version": torch.__version__,
                "torch_threads": torch.get_num_threads(),
                "median_s": med,
                "times_s": times,
                "samples_per_s": rate,
                "mse": mse,
            },
        )
    ]
