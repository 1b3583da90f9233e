"""Seeing what happened: the textbook's figures of a fit, drawn with matplotlib.

``import fastgd`` never imports matplotlib; import this module explicitly::

    import fastgd.plot

======================================  =====================================================
``paths(results, X, y)``                the paths of θ in a plane of two of its components,
                                        over the contour lines of the MSE (Géron's fig. 4-11)
``loss(results)``                       the training MSE per epoch, log scale, several fits
``learning_rates(X, y, etas)``          the first batch-GD steps for several η (fig. 4-8)
======================================  =====================================================

``paths`` and ``loss`` return the matplotlib Axes they drew on (a new figure's, or ``ax``);
``learning_rates`` returns its Figure.  Nothing passed in is modified.
"""

import math
import numbers
from collections.abc import Mapping

import numpy as np

try:
    import matplotlib  # noqa: F401  (fail here, at import, when the extra is missing)
except ImportError as exc:
    raise ImportError("fastgd.plot needs matplotlib: pip install fastgd[plot]") from exc
from matplotlib import ticker

from . import _validation as v
from .api import fit
from .exceptions import DivergenceError
from .result import FitResult

__all__ = ["learning_rates", "loss", "paths"]

#: the textbook's look (fig. 4-11): batch blue circles, SGD red squares, mini-batch green pluses;
#: drawn SGD lowest (its jitter would hide the others), then batch as a wide band, then mini-batch
#: as a thin line on top of it (the two share the straight run from the start)
_STYLES = {
    "batch": {"color": "tab:blue", "marker": "o", "linewidth": 4, "markersize": 5, "zorder": 3},
    "sgd": {"color": "tab:red", "marker": "s", "linewidth": 0.6, "markersize": 2, "alpha": 0.6, "zorder": 2},
    "minibatch": {
        "color": "tab:green",
        "marker": "+",
        "linewidth": 1,
        "markersize": 6,
        "markeredgewidth": 1.2,
        "alpha": 0.85,
        "zorder": 4,
    },
}
#: for the closed forms and a second fit of the same method
_MORE_STYLES = [
    {"color": color, "marker": marker, "linewidth": 1.5, "markersize": 4}
    for color, marker in zip(
        ("tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray"),
        ("D", "^", "v", "x", "*", "<", ">"),
        strict=True,
    )
]
#: grid points per side of the contour plot of ``paths``
_GRID = 200


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _new_axes(ax):
    if ax is not None:
        return ax
    return _pyplot().subplots()[1]


def _results(results, labels):
    """(list of FitResult, list of labels) from a FitResult, a list/tuple or a dict of them."""
    if isinstance(results, FitResult):
        items, default = [results], [results.method]
    elif isinstance(results, Mapping):
        items, default = list(results.values()), [str(k) for k in results]
    elif isinstance(results, (list, tuple)):
        items = list(results)
        default = [getattr(r, "method", "?") for r in items]
    else:
        raise TypeError(f"results must be a FitResult, or a list, tuple or dict of them; got {type(results).__name__}")
    if not items:
        raise ValueError("results is empty: pass at least one FitResult")
    for k, r in enumerate(items):
        if not isinstance(r, FitResult):
            raise TypeError(f"results[{k}] is a {type(r).__name__}, not a FitResult (from fastgd.fit)")
    if labels is None:
        return items, default
    if isinstance(labels, str) or len(labels) != len(items):
        raise ValueError(f"labels must be a list of {len(items)} names, one per result; got {labels!r}")
    return items, [str(s) for s in labels]


def _styles(items):
    """One style per result: the textbook's for the first fit of each iterative method."""
    used, spare, out = set(), iter(_MORE_STYLES * (1 + len(items) // len(_MORE_STYLES))), []
    for r in items:
        if r.method in _STYLES and r.method not in used:
            used.add(r.method)
            out.append(_STYLES[r.method])
        else:
            out.append(next(spare))
    return out


def _check_params(params, n_theta):
    """The two θ indices to plot, each in 0..d and distinct."""
    if isinstance(params, (str, bytes)) or not hasattr(params, "__len__") or len(params) != 2:
        raise ValueError(f"params must be two indices of θ (0 = intercept, j = coef j-1), got {params!r}")
    out = []
    for p in params:
        if isinstance(p, bool) or not isinstance(p, numbers.Integral):
            raise TypeError(f"params must hold integers, got {params!r}")
        if not 0 <= p < n_theta:
            raise ValueError(
                f"params={tuple(params)!r}: index {p} is out of range; θ = [intercept, *coef] has {n_theta} "
                f"components, 0..{n_theta - 1}"
            )
        out.append(int(p))
    if out[0] == out[1]:
        raise ValueError(f"params must be two different components of θ, got {params!r}")
    return out


def _check_levels(levels):
    """levels: a count (int >= 1) or a strictly increasing sequence of finite MSE values."""
    if isinstance(levels, bool):
        raise TypeError(f"levels must be an int >= 1 or a sequence of MSE values, got {levels!r}")
    if isinstance(levels, numbers.Integral):
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels!r}")
        return int(levels)
    try:
        arr = np.asarray(levels, dtype=np.float64) if not isinstance(levels, (str, bytes)) else np.empty((0, 0))
    except (TypeError, ValueError):
        arr = np.empty((0, 0))
    if arr.ndim != 1 or arr.size == 0 or not np.isfinite(arr).all() or np.any(np.diff(arr) <= 0):
        raise ValueError(
            f"levels must be an int >= 1 or a non-empty, strictly increasing list of finite values; got {levels!r}"
        )
    return arr


def _data(X, y, d):
    """X̃ = [1, X] and y in float64 (new arrays), checked against θ's d + 1 components."""
    if (X is None) != (y is None):
        raise ValueError("pass both X and y (to draw the contour lines of the MSE), or neither")
    X = v.check_X(X)
    y = v.check_y(y, X.shape[0], X.dtype)
    if not np.isfinite(X).all():
        raise ValueError("X holds NaN or infinite values")
    if X.shape[1] != d:
        raise ValueError(f"X has {X.shape[1]} features but the results' θ has {d} coefficients")
    return np.column_stack((np.ones(X.shape[0]), X.astype(np.float64))), y.astype(np.float64)


def _mse_plane(X_b, y, theta_star, theta_fixed, i, j, a, b):
    """The MSE at θ = theta_fixed with θ_i = a, θ_j = b (a, b arrays of one shape).

    Expanded around a least-squares optimum θ* (where X̃ᵀ(y − X̃θ*) = 0):
    ``MSE(θ) = MSE(θ*) + ‖X̃(θ − θ*)‖² / n``; with δ = θ − θ* = δ0 + α e_i + β e_j it is a
    quadratic in (α, β) whose six coefficients take one pass over X̃: O(n d) plus O(1) per
    grid point, no loop over samples.
    """
    n = X_b.shape[0]
    mse_star = float(np.mean((X_b @ theta_star - y) ** 2))
    delta0 = np.asarray(theta_fixed, dtype=np.float64) - theta_star
    delta0[[i, j]] = 0.0
    u = X_b @ delta0
    ci, cj = X_b[:, i], X_b[:, j]
    al, be = a - theta_star[i], b - theta_star[j]
    quad = u @ u + 2 * al * (u @ ci) + 2 * be * (u @ cj) + al**2 * (ci @ ci) + 2 * al * be * (ci @ cj)
    return mse_star + (quad + be**2 * (cj @ cj)) / n


def _extent(values):
    """(low, high) around values, 10% margin, never empty."""
    values = np.concatenate([np.ravel(a) for a in values])
    lo, hi = float(values.min()), float(values.max())
    pad = 0.1 * (hi - lo) if hi > lo else 0.1 * abs(lo) + 1.0
    return lo - pad, hi + pad


#: the default titles: the textbook's caption of figure 4-11, and of the learning curves
PATHS_TITLE = "Gradient Descent paths in parameter space"
LOSS_TITLE = "Training MSE per epoch"
#: font sizes of the axis labels, the titles and the contour labels
_LABEL_SIZE, _TITLE_SIZE, _CLABEL_SIZE = 13, 13, 9


def _zoom_box(xs, ys, full, optimum):
    """((x_lo, x_hi), (y_lo, y_hi)): where the paths differ, near their ends.

    The last half of every path (its points by index: the straight run from the start is in
    the first few) and the optimum, with a 15% margin, and at least 2% of the full view a side.
    """
    tails_x = [px[len(px) // 2 :] for px in xs] + ([[optimum[0]]] if optimum is not None else [])
    tails_y = [py[len(py) // 2 :] for py in ys] + ([[optimum[1]]] if optimum is not None else [])
    box = []
    for tails, (f_lo, f_hi) in zip((tails_x, tails_y), full, strict=True):
        values = np.concatenate([np.ravel(a) for a in tails])
        lo, hi = float(values.min()), float(values.max())
        half = max(0.5 * (hi - lo) * 1.15, 0.01 * (f_hi - f_lo))
        mid = 0.5 * (lo + hi)
        box.append((mid - half, mid + half))
    return tuple(box)


def _draw_panel(ax, xs, ys, names, styles, box, plane, levels, zoomed=False):
    """The contour lines over box (plane: X̃, y, θ*, the fixed θ, i, j; or None), the optimum, the paths."""
    (x_lo, x_hi), (y_lo, y_hi) = box
    if plane is not None:
        X_b, y_, theta_star, fixed, i, j = plane
        a, b = np.meshgrid(np.linspace(x_lo, x_hi, _GRID), np.linspace(y_lo, y_hi, _GRID))
        mse = _mse_plane(X_b, y_, theta_star, fixed, i, j, a, b)
        if isinstance(levels, int):
            lo, hi = float(mse.min()), float(mse.max())
            levels = lo + (hi - lo) * (np.arange(1, levels + 1) / (levels + 1)) ** 2
        contours = ax.contour(a, b, mse, levels=levels, colors="0.45", linewidths=0.9, zorder=0)
        for text in ax.clabel(contours, fontsize=_CLABEL_SIZE, fmt="%.3g", colors="0.15"):
            text.set_zorder(7)  # readable over the paths that cross it
            text.set_bbox({"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 0.6})
        ax.scatter(
            [theta_star[i]],
            [theta_star[j]],
            marker="*",
            s=260,
            color="gold",
            edgecolor="k",
            linewidth=1.2,
            zorder=6,
            label="optimum (lstsq)",
        )
    if zoomed:  # the path whose last half spreads widest lowest, so that the tighter ones show on it
        spread = [float(np.ptp(px[len(px) // 2 :]) + np.ptp(py[len(py) // 2 :])) for px, py in zip(xs, ys, strict=True)]
        rank = np.argsort(np.argsort(spread)[::-1])
        styles = [{**s, "zorder": 2 + 0.1 * int(k)} for s, k in zip(styles, rank, strict=True)]
        styles = [{**s, "linewidth": min(s["linewidth"], 2.5)} for s in styles]
    for px, py, name, style in zip(xs, ys, names, styles, strict=True):
        ax.plot(px, py, label=name, **style)
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.tick_params(labelsize=10)


#: where an inset zoom may go, in axes coordinates (x, y, width, height), leaving room for its tick labels
_INSETS = {
    "lower right": (0.56, 0.09, 0.42, 0.42),
    "upper right": (0.56, 0.56, 0.42, 0.42),
    "lower left": (0.1, 0.09, 0.42, 0.42),
    "upper left": (0.1, 0.56, 0.42, 0.42),
}


def _inset_corners(xs, ys, box):
    """The corners of _INSETS, the one whose rectangle holds the fewest path points first."""
    (x_lo, x_hi), (y_lo, y_hi) = box
    u = np.concatenate([(np.ravel(px) - x_lo) / (x_hi - x_lo) for px in xs])
    w = np.concatenate([(np.ravel(py) - y_lo) / (y_hi - y_lo) for py in ys])

    def covered(corner):
        x0, y0, width, height = _INSETS[corner]
        return int(np.count_nonzero((u > x0) & (u < x0 + width) & (w > y0) & (w < y0 + height)))

    return sorted(_INSETS, key=covered)


def paths(results, X=None, y=None, *, params=(0, 1), labels=None, levels=10, ax=None, zoom=None, title=PATHS_TITLE):
    """The paths of θ in the plane of two of its components (Géron's figure 4-11).

    Parameters
    ----------
    results : FitResult, or a list, tuple or dict (label -> FitResult) of them
        Each fitted with ``record_path="update"`` or ``"epoch"`` (so that ``result.path`` is
        set), all on data with the same number of features.
    X, y : array-like, optional
        The training data.  With them, the contour lines of the training MSE over the plane
        are drawn, and the least-squares optimum (numpy's lstsq, with an intercept) is marked
        with a star.  The plane is the one through the **last** result's final θ: the θ
        components not plotted are fixed at that result's final values (for d = 1 and
        ``params=(0, 1)`` nothing is fixed).  The star shows the optimum's two plotted
        components.
    params : two ints
        The θ components on the x and y axes: 0 = intercept, j = coef[j - 1].
    labels : list of str, optional
        Legend entries, one per result; default: the dict's keys or the methods' names.
    levels : int or increasing sequence of floats
        The contour lines (used only with X and y): an int n draws n levels between the
        lowest and the highest MSE on the plotted grid, spaced quadratically so that the
        ellipses are evenly spaced; a sequence gives the MSE values themselves.
    ax : matplotlib Axes, optional
        Where to draw; default a new figure (pyplot).
    zoom : None, True or a matplotlib Axes
        Also draw the region where the paths differ, near their ends (the last half of every
        path's points and the optimum), framed on it, with its own contour lines; the full
        view marks it with a rectangle.  ``True``: in a second panel beside the first (a new
        figure of two) when ``ax`` is None, else in an inset in the corner of ``ax`` that the
        paths cross least; an Axes: there.  None (default): no zoom.
    title : str or None
        The title of ``ax`` (the zoomed view is titled "near the optimum (zoomed)").

    Returns
    -------
    matplotlib Axes
        The full view: one Line2D per result, in order (``ax.get_lines()``), the contour set
        among ``ax.collections``, the legend.  The zoomed view, when drawn, has the same
        lines; it is ``ax.figure.axes[1]`` (a new figure of two panels), ``ax.child_axes[0]``
        (an inset), or the Axes given as ``zoom``.

    Raises
    ------
    ValueError
        A result without a path (fit it with ``record_path``), ``params`` out of range, X of
        the wrong width, bad ``levels``.
    """
    items, names = _results(results, labels)
    for k, r in enumerate(items):
        if r.path is None:
            raise ValueError(
                f"results[{k}] ({names[k]}, method {r.method!r}) has no path: fit it with record_path='update' "
                "or record_path='epoch'"
            )
    n_theta = items[0].path.shape[1]
    for k, r in enumerate(items):
        if r.path.shape[1] != n_theta:
            raise ValueError(
                f"results[{k}] ({names[k]}) has {r.path.shape[1]} θ components but results[0] has {n_theta}: "
                "all results must be fits of the same features"
            )
    i, j = _check_params(params, n_theta)
    levels = _check_levels(levels)
    if not (zoom is None or zoom is True or hasattr(zoom, "plot")):
        raise TypeError(f"zoom must be None, True or a matplotlib Axes, got {zoom!r}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a str or None, got {title!r}")
    if zoom is True and ax is None:
        ax, zoom = _pyplot().figure(figsize=(12, 5.4), layout="constrained").subplots(1, 2)
    ax = _new_axes(ax)
    xs = [r.path[:, i] for r in items]
    ys = [r.path[:, j] for r in items]
    plane = optimum = None
    if X is not None or y is not None:
        X_b, y_ = _data(X, y, n_theta - 1)
        theta_star = np.linalg.lstsq(X_b, y_, rcond=None)[0]
        plane = (X_b, y_, theta_star, items[-1].path[-1], i, j)
        optimum = (theta_star[i], theta_star[j])
    full = _extent([*xs] + ([[optimum[0]]] if optimum else [])), _extent([*ys] + ([[optimum[1]]] if optimum else []))
    styles = _styles(items)
    _draw_panel(ax, xs, ys, names, styles, full, plane, levels)
    ax.set_xlabel(_theta_label(i), fontsize=_LABEL_SIZE)
    ax.set_ylabel(_theta_label(j), fontsize=_LABEL_SIZE)
    if title is not None:
        ax.set_title(title, fontsize=_TITLE_SIZE)
    legend_loc = "best"
    if zoom is not None:
        box = _zoom_box(xs, ys, full, optimum)
        if zoom is True:
            corner, legend_loc = _inset_corners(xs, ys, full)[:2]
            zoom = ax.inset_axes(_INSETS[corner])
            _draw_panel(zoom, xs, ys, names, styles, box, plane, levels, zoomed=True)
            ax.indicate_inset_zoom(zoom, edgecolor="k", linewidth=1.3, zorder=8)
            zoom.tick_params(labelsize=8)
        else:
            _draw_panel(zoom, xs, ys, names, styles, box, plane, levels, zoomed=True)
            ax.indicate_inset(
                [box[0][0], box[1][0], box[0][1] - box[0][0], box[1][1] - box[1][0]],
                edgecolor="k",
                linewidth=1.3,
                zorder=8,
            )
            zoom.set_xlabel(_theta_label(i), fontsize=_LABEL_SIZE)
            zoom.set_ylabel(_theta_label(j), fontsize=_LABEL_SIZE)
            zoom.set_title("near the optimum (zoomed: the rectangle at the left)", fontsize=_TITLE_SIZE)
    ax.legend(loc=legend_loc, fontsize=10, framealpha=0.9)
    return ax


def _theta_label(k):
    return rf"$\theta_{{{k}}}$" + (" (intercept)" if k == 0 else "")


def loss(results, labels=None, ax=None, *, xscale="log", title=LOSS_TITLE):
    """The training MSE after every epoch (``result.history``), log scale, one line per fit.

    ``xscale="log"`` (default) spreads the first epochs, where a 50-epoch SGD lies beside a
    1000-epoch batch GD; ``"linear"`` draws the epochs evenly.  A closed form (normal
    equation, SVD) has no epochs (empty history): it is drawn as a dashed horizontal line at
    its loss, labelled "(closed form)", so every result gives one Line2D.  Returns the Axes
    (``ax`` or a new figure's), titled ``title`` (None: no title).
    """
    items, names = _results(results, labels)
    if xscale not in ("log", "linear"):
        raise ValueError(f"xscale must be 'log' or 'linear', got {xscale!r}")
    ax = _new_axes(ax)
    for r, name, style in zip(items, names, _styles(items), strict=True):
        if r.history.size:
            epochs = np.arange(1, r.history.size + 1)
            ax.plot(
                epochs,
                r.history,
                label=name,
                color=style["color"],
                marker=style["marker"],
                markersize=4,
                markevery=_markevery(r.history.size, xscale),
                linewidth=1.8,
                zorder=style.get("zorder", 3),
            )
        else:
            ax.axhline(r.loss, label=f"{name} (closed form)", color=style["color"], linestyle="--", linewidth=1.2)
    ax.set_yscale("log")
    ax.set_xscale(xscale)
    plain = ticker.FuncFormatter(lambda value, _: f"{value:g}")  # 1 2 5 10 20 ..., not 10⁰ 10¹
    for axis, limits in [(ax.yaxis, ax.get_ylim())] + ([(ax.xaxis, ax.get_xlim())] if xscale == "log" else []):
        axis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(plain)
        few = limits[1] < 5 * limits[0]  # at most one of 1, 2, 5, 10, ... in view: label the minor ticks too
        axis.set_minor_formatter(plain if few else ticker.NullFormatter())
    ax.set_xlabel("epoch" + (" (log scale)" if xscale == "log" else ""), fontsize=_LABEL_SIZE)
    ax.set_ylabel("training MSE (log scale)", fontsize=_LABEL_SIZE)
    ax.tick_params(labelsize=10)
    ax.grid(True, which="major", color="0.85", linewidth=0.8)
    if title is not None:
        ax.set_title(title, fontsize=_TITLE_SIZE)
    ax.legend(loc="best", fontsize=10, framealpha=0.9)
    return ax


def _markevery(n, xscale):
    """Markers evenly spaced along the x-axis: about 25 of them."""
    if xscale == "linear":
        return max(1, n // 25)
    at = np.unique(np.round(np.geomspace(1, n, 25)).astype(int) - 1)
    return at.tolist()


def learning_rates(X, y, etas=(0.02, 0.1, 0.5), n_steps=10, *, init="random", random_state=42, fig=None):
    """The first ``n_steps`` steps of batch gradient descent for each η (Géron's figure 4-8).

    One panel per η, each from the same initial θ (``init`` and ``random_state`` as in
    ``fastgd.fit``; the textbook's random start by default).  For one feature, a panel shows
    the data and the prediction line after each step: the start dashed red, the steps blue,
    the way the textbook shows η too small, right and too large.  With d > 1 features there
    is no line to draw over the data: a panel shows the training MSE after each step (0 = the
    start) on a log scale, and the least-squares optimum's MSE dashed.

    A fit whose loss blows up (``fastgd.DivergenceError``) is redrawn with the steps made
    before it, and its panel says "diverged at step k".

    Returns the matplotlib Figure (``fig``, or a new one from pyplot).
    """
    X_arr = v.check_X(X)
    y_arr = v.check_y(y, X_arr.shape[0], X_arr.dtype)
    n_steps = v.check_int("n_steps", n_steps, 1)
    etas = [etas] if isinstance(etas, numbers.Real) else list(etas)
    if not etas:
        raise ValueError("etas is empty: pass at least one learning rate")
    for eta in etas:
        if isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not (math.isfinite(eta) and eta > 0):
            raise ValueError(f"etas must hold positive finite learning rates, got {eta!r}")
    if fig is None:
        fig = _pyplot().figure(figsize=(3.5 * len(etas), 3.5), layout="constrained")
    axes = fig.subplots(1, len(etas), sharey=True, squeeze=False)[0]
    one_feature = X_arr.shape[1] == 1
    if not one_feature:
        X_b, y64 = _data(X_arr, y_arr, X_arr.shape[1])
        best = float(np.mean((X_b @ np.linalg.lstsq(X_b, y64, rcond=None)[0] - y64) ** 2))
    for ax, eta in zip(axes, etas, strict=True):
        thetas, diverged = _first_steps(X_arr, y_arr, eta, n_steps, init, random_state)
        if one_feature:
            _draw_lines(ax, X_arr[:, 0], y_arr, thetas)
        else:
            mse = np.mean((X_b @ thetas.T - y64[:, None]) ** 2, axis=0) if thetas.size else np.empty(0)
            ax.plot(np.arange(mse.size), mse, "b-o", markersize=3)
            ax.axhline(best, color="0.5", linestyle="--", linewidth=1, label="optimum (lstsq)")
            ax.set_yscale("log")
            ax.set_xlabel("step")
        if diverged:
            ax.text(0.5, 0.9, f"diverged at step {diverged}", transform=ax.transAxes, ha="center", color="tab:red")
        ax.set_title(rf"$\eta = {eta:g}$")
    axes[0].set_ylabel("y" if one_feature else "training MSE")
    return fig


def _first_steps(X, y, eta, n_steps, init, random_state):
    """(θ at the start and after each step, step at which it diverged or 0)."""
    kwargs = {"method": "batch", "learning_rate": eta, "tol": 0, "init": init, "record_path": "epoch"}
    try:
        return fit(X, y, max_epochs=n_steps, random_state=random_state, **kwargs).path, 0
    except DivergenceError as exc:
        if exc.epoch <= 1:  # the first step blew up: fit returns no path, nothing to draw
            return np.empty((0, X.shape[1] + 1)), exc.epoch
        return fit(X, y, max_epochs=exc.epoch - 1, random_state=random_state, **kwargs).path, exc.epoch


def _draw_lines(ax, x, y, thetas):
    """The data (a scatter), and one Line2D per θ: the first dashed red, the others blue."""
    ax.scatter(x, y, s=8, color="tab:blue", label="data")
    ends = np.array([x.min(), x.max()], dtype=np.float64)
    for k, theta in enumerate(thetas):
        ax.plot(ends, theta[0] + theta[1] * ends, "r--" if k == 0 else "b-", linewidth=1)
    start = thetas[0][0] + thetas[0][1] * ends if len(thetas) else ends[:0]
    lo, hi = float(min(y.min(), *start)), float(max(y.max(), *start))  # the data and the starting line
    pad = 0.25 * (hi - lo) if hi > lo else 1.0
    ax.set_ylim(lo - pad, hi + pad)  # a diverging η's lines leave the frame, as in the textbook
    ax.set_xlabel("x")
