"""fastgd.plot: what the figures draw (Agg backend), and its errors."""

import importlib
import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib", minversion="3.8")  # 3.8: a ContourSet is one of ax.collections
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from conftest import lstsq  # noqa: E402
from matplotlib.contour import QuadContourSet  # noqa: E402

import fastgd  # noqa: E402
import fastgd.plot  # noqa: E402
from fastgd.cli import main  # noqa: E402
from fastgd.plot import _mse_plane  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def textbook():
    """The data and the three fits of the textbook's figure 4-11, with their paths."""
    X, y = fastgd.make_linear(100, 1, random_state=42)
    schedules = fastgd.schedules
    fits = [
        fastgd.fit(
            X, y, method="batch", learning_rate=0.1, max_epochs=1000, tol=0, record_path="epoch", random_state=1
        ),
        fastgd.fit(
            X,
            y,
            method="sgd",
            learning_rate=schedules.inverse_time(t0=5, t1=50),
            max_epochs=50,
            tol=0,
            record_path="update",
            random_state=1,
        ),
        fastgd.fit(
            X,
            y,
            method="minibatch",
            batch_size=20,
            learning_rate=schedules.inverse_time(t0=200, t1=1000),
            max_epochs=50,
            tol=0,
            record_path="update",
            random_state=1,
        ),
    ]
    return X, y, fits


def _contours(ax):
    return [c for c in ax.collections if isinstance(c, QuadContourSet)]


def test_import_fastgd_does_not_import_matplotlib():
    code = "import sys, fastgd, fastgd.cli; assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_without_matplotlib_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    monkeypatch.delitem(sys.modules, "fastgd.plot")
    with pytest.raises(ImportError, match=r"pip install fastgd\[plot\]"):
        importlib.import_module("fastgd.plot")


def test_paths_draws_one_line_per_fit_over_the_contours_asked_for(textbook):
    X, y, fits = textbook
    X0, y0 = X.copy(), y.copy()
    ax = fastgd.plot.paths(fits, X, y, levels=7)
    lines = ax.get_lines()
    assert len(lines) == len(fits) == 3
    assert [line.get_label() for line in lines] == ["batch", "sgd", "minibatch"]
    for line, res in zip(lines, fits, strict=True):
        np.testing.assert_array_equal(line.get_xdata(), res.path[:, 0])
        np.testing.assert_array_equal(line.get_ydata(), res.path[:, 1])
    assert len({(line.get_color(), line.get_marker()) for line in lines}) == 3  # told apart
    (contours,) = _contours(ax)
    assert len(contours.levels) == 7 and np.all(np.diff(contours.levels) > 0)
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"batch", "sgd", "minibatch", "optimum (lstsq)"}
    theta, _ = lstsq(X, y)
    (star,) = [c for c in ax.collections if c.get_label() == "optimum (lstsq)"]
    np.testing.assert_allclose(star.get_offsets()[0], theta, rtol=1e-10)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_paths_draws_exactly_the_levels_given(textbook):
    X, y, fits = textbook
    ax = fastgd.plot.paths(fits[:2], X, y, levels=[1.0, 2.0, 5.0, 20.0])
    (contours,) = _contours(ax)
    np.testing.assert_array_equal(contours.levels, [1.0, 2.0, 5.0, 20.0])
    assert len(ax.get_lines()) == 2


def test_paths_without_data_draws_no_contours_and_takes_a_dict(textbook):
    _, _, fits = textbook
    ax = plt.subplots()[1]
    out = fastgd.plot.paths({"Batch": fits[0], "Stochastic": fits[1]}, params=(1, 0), ax=ax)
    assert out is ax
    assert _contours(ax) == []
    assert [line.get_label() for line in ax.get_lines()] == ["Batch", "Stochastic"]
    np.testing.assert_array_equal(ax.get_lines()[1].get_xdata(), fits[1].path[:, 1])  # params=(1, 0): θ1 on x
    assert len(fastgd.plot.paths(fits[2]).get_lines()) == 1  # one FitResult


def test_contour_values_are_the_mse_on_the_plane():
    """The expansion around the optimum against the MSE computed point by point."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3)) + 2.0
    y = 1.0 + X @ np.array([0.5, -2.0, 1.0]) + rng.standard_normal(60)
    X_b = np.column_stack((np.ones(60), X))
    theta_star = np.linalg.lstsq(X_b, y, rcond=None)[0]
    fixed = rng.standard_normal(4)
    a, b = rng.standard_normal((2, 5, 4)) * 3
    got = _mse_plane(X_b, y, theta_star, fixed, 1, 3, a, b)
    want = np.empty_like(a)
    for idx in np.ndindex(a.shape):
        theta = fixed.copy()
        theta[1], theta[3] = a[idx], b[idx]
        want[idx] = np.mean((X_b @ theta - y) ** 2)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_paths_contours_lie_in_the_plane_of_the_last_fit(multi):
    """d = 5, params=(2, 4): the other θ components are fixed at the last fit's final values, so
    every vertex of a contour line, completed with them, has the MSE of its level (and, completed
    with the first fit's values, it does not)."""
    X, y = multi
    fits = [
        fastgd.fit(X, y, method=m, record_path="epoch", max_epochs=2, tol=0, random_state=3)
        for m in ("minibatch", "batch")
    ]
    X_b = np.column_stack((np.ones(len(X)), X))
    levels = [0.5, 2.0]
    ax = fastgd.plot.paths(fits, X, y, params=(2, 4), levels=levels)
    (contours,) = _contours(ax)
    for level, path in zip(levels, contours.get_paths(), strict=True):
        assert len(path.vertices) > 50
        for res, on_plane in ((fits[-1], True), (fits[0], False)):
            theta = np.tile(res.path[-1], (len(path.vertices), 1))
            theta[:, [2, 4]] = path.vertices
            mse = np.mean((X_b @ theta.T - y[:, None]) ** 2, axis=0)
            assert np.allclose(mse, level, rtol=1e-4) == on_plane
    assert len(_contours(fastgd.plot.paths(fits, X, y, params=(2, 4), levels=5))[0].levels) == 5


def test_paths_errors_are_clear(textbook):
    X, y, fits = textbook
    no_path = fastgd.fit(X, y, method="batch", random_state=0)
    with pytest.raises(ValueError, match=r"results\[1\].*no path.*record_path"):
        fastgd.plot.paths([fits[0], no_path])
    with pytest.raises(ValueError, match=r"params=\(0, 2\).*index 2 is out of range.*2 components"):
        fastgd.plot.paths(fits, params=(0, 2))
    with pytest.raises(ValueError, match="index -1 is out of range"):
        fastgd.plot.paths(fits, params=(-1, 0))
    with pytest.raises(ValueError, match="two different"):
        fastgd.plot.paths(fits, params=(1, 1))
    with pytest.raises(ValueError, match="levels must be >= 1, got 0"):
        fastgd.plot.paths(fits, X, y, levels=0)
    with pytest.raises(ValueError, match="strictly increasing"):
        fastgd.plot.paths(fits, X, y, levels=[3.0, 1.0])
    with pytest.raises(ValueError, match=r"strictly increasing.*got 'many'"):
        fastgd.plot.paths(fits, X, y, levels="many")
    with pytest.raises(ValueError, match="both X and y"):
        fastgd.plot.paths(fits, X)
    with pytest.raises(ValueError, match="X has 2 features but the results' θ has 1"):
        fastgd.plot.paths(fits, np.column_stack((X, X)), y)
    with pytest.raises(TypeError, match=r"results\[0\] is a ndarray"):
        fastgd.plot.paths([fits[0].path])
    with pytest.raises(ValueError, match="labels must be a list of 3"):
        fastgd.plot.paths(fits, labels=["a"])
    with pytest.raises(ValueError, match="results is empty"):
        fastgd.plot.paths([])


def test_loss_is_log_scale_with_one_line_per_fit(textbook):
    X, y, fits = textbook
    normal = fastgd.fit(X, y, method="normal")
    ax = fastgd.plot.loss([*fits, normal], labels=["B", "S", "M", "N"])
    assert ax.get_yscale() == "log"
    lines = ax.get_lines()
    assert len(lines) == 4
    for line, res in zip(lines[:3], fits, strict=True):
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, res.n_epochs + 1))
        np.testing.assert_array_equal(line.get_ydata(), res.history)
    assert lines[3].get_label() == "N (closed form)"  # no epochs: a horizontal line at its loss
    np.testing.assert_array_equal(lines[3].get_ydata(), [normal.loss, normal.loss])


def test_learning_rates_one_panel_per_eta_and_a_line_per_step(demo):
    X, y = demo
    X0 = X.copy()
    fig = fastgd.plot.learning_rates(X, y, etas=(0.02, 0.1, 0.5), n_steps=10)
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == [r"$\eta = 0.02$", r"$\eta = 0.1$", r"$\eta = 0.5$"]
    for ax, eta in zip(fig.axes, (0.02, 0.1, 0.5), strict=True):
        lines = ax.get_lines()
        assert len(lines) == 11  # the start and 10 steps: η = 0.5 does not blow up in 10 steps here
        assert not ax.texts
        path = fastgd.fit(
            X, y, method="batch", learning_rate=eta, max_epochs=10, tol=0, record_path="epoch", random_state=42
        ).path
        x_ends = lines[3].get_xdata()
        np.testing.assert_allclose(lines[3].get_ydata(), path[3, 0] + path[3, 1] * x_ends, rtol=1e-12)
        assert lines[0].get_linestyle() == "--"
    np.testing.assert_array_equal(X, X0)


def test_learning_rates_draws_a_diverging_eta_up_to_the_blow_up(demo):
    X, y = demo
    fig = fastgd.plot.learning_rates(X, y, etas=(0.1, 5.0), n_steps=10)
    with pytest.raises(fastgd.DivergenceError) as info:
        fastgd.fit(X, y, method="batch", learning_rate=5.0, max_epochs=10, tol=0, random_state=42)
    k = info.value.epoch
    assert 1 < k <= 10
    ax = fig.axes[1]
    assert len(ax.get_lines()) == k  # the start and the k - 1 finite steps
    assert [t.get_text() for t in ax.texts] == [f"diverged at step {k}"]


def test_learning_rates_with_several_features_plots_the_mse_per_step(multi):
    X, y = multi
    fig = fastgd.plot.learning_rates(X, y, etas=(0.01, 0.3), n_steps=6)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert ax.get_yscale() == "log"
        mse, optimum = ax.get_lines()
        assert len(mse.get_ydata()) == 7
        assert np.all(np.diff(mse.get_ydata()) < 0)  # both rates are stable here
        assert optimum.get_ydata()[0] == pytest.approx(lstsq(X, y)[1], rel=1e-10)


def test_learning_rates_errors(demo):
    X, y = demo
    with pytest.raises(ValueError, match=r"positive finite learning rates, got -0\.1"):
        fastgd.plot.learning_rates(X, y, etas=(0.1, -0.1))
    with pytest.raises(ValueError, match="etas is empty"):
        fastgd.plot.learning_rates(X, y, etas=())
    with pytest.raises(ValueError, match="n_steps"):
        fastgd.plot.learning_rates(X, y, n_steps=0)


def test_demo_plot_writes_a_png(tmp_path, capsys):
    path = tmp_path / "paths.png"
    assert main(["demo", "--plot", str(path)]) == 0
    assert str(path) in capsys.readouterr().out
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 20_000  # a drawn figure, not an empty canvas
    loss = (tmp_path / "paths_loss.png").read_bytes()  # and the training MSE per epoch beside it
    assert loss[:8] == PNG_SIGNATURE and len(loss) > 20_000


def test_demo_plot_without_an_extension_writes_what_it_says(tmp_path, capsys):
    assert main(["demo", "--plot", str(tmp_path / "noext")]) == 0
    out = capsys.readouterr().out
    written = [line.rsplit(" written to ", 1)[1] for line in out.splitlines() if " written to " in line]
    assert written == [str(tmp_path / "noext.png"), str(tmp_path / "noext_loss.png")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noext.png", "noext_loss.png"]
    for name in written:
        with open(name, "rb") as f:
            assert f.read(8) == PNG_SIGNATURE


def _limits(ax):
    return np.array([ax.get_xlim(), ax.get_ylim()])


def _contains(limits, point):
    return all(lo <= p <= hi for (lo, hi), p in zip(limits, point, strict=True))


def test_the_zoomed_panel_frames_the_ends_of_the_paths_and_the_optimum(textbook):
    X, y, fits = textbook
    ax = fastgd.plot.paths(fits, X, y, zoom=True, labels=["Batch", "Stochastic", "Mini-batch"])
    full, zoomed = ax.figure.axes
    assert full is ax and ax.get_title() == fastgd.plot.PATHS_TITLE
    assert "zoom" in zoomed.get_title()
    theta, _ = lstsq(X, y)
    inner, outer = _limits(zoomed), _limits(full)
    for point in [theta, *(res.path[-1] for res in fits)]:
        assert _contains(inner, point), (point, inner)
        assert _contains(outer, point)
    for res in fits:  # the full view holds every path, start included; the zoom does not hold the start
        assert _contains(outer, res.path.min(axis=0)) and _contains(outer, res.path.max(axis=0))
        assert not _contains(inner, res.path[0])
    assert np.all(np.diff(inner).ravel() < 0.15 * np.diff(outer).ravel())  # much smaller, both axes
    for line, zline in zip(full.get_lines(), zoomed.get_lines(), strict=True):  # the same paths, zoomed
        np.testing.assert_array_equal(line.get_xydata(), zline.get_xydata())
    assert len(_contours(zoomed)) == 1 and [c.get_label() for c in zoomed.collections][-1] == "optimum (lstsq)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert all(name in legend for name in ["Batch", "Stochastic", "Mini-batch", "optimum (lstsq)"])


def test_no_path_hides_another(textbook):
    """Batch and mini-batch share the straight run from the start: batch is a wider band under
    mini-batch's thin line.  Near the optimum the widest-spread path is lowest, batch on top."""
    X, y, fits = textbook
    ax = fastgd.plot.paths(fits, X, y, zoom=True)
    batch, sgd, mini = ax.get_lines()
    assert batch.get_linewidth() >= 2 * mini.get_linewidth() and mini.get_zorder() > batch.get_zorder()
    assert sgd.get_zorder() < batch.get_zorder() and sgd.get_alpha() < 1
    assert len({line.get_color() for line in ax.get_lines()}) == 3
    assert len({line.get_marker() for line in ax.get_lines()}) == 3
    zbatch, zsgd, zmini = ax.figure.axes[1].get_lines()
    assert zmini.get_zorder() < zsgd.get_zorder() < zbatch.get_zorder()  # mini-batch spreads widest here
    star = next(c for c in ax.collections if c.get_label() == "optimum (lstsq)")
    assert star.get_zorder() > max(line.get_zorder() for line in ax.get_lines())


def test_labels_are_readable_and_the_theta_glyphs_render(textbook, recwarn):
    X, y, fits = textbook
    ax = fastgd.plot.paths(fits, X, y, zoom=True)
    assert ax.get_xlabel().startswith(r"$\theta_{0}$") and ax.get_ylabel() == r"$\theta_{1}$"
    assert ax.xaxis.label.get_fontsize() >= 12 and ax.title.get_fontsize() >= 12
    (contours,) = _contours(ax)
    texts = contours.labelTexts
    assert texts and all(t.get_fontsize() >= 9 for t in texts)
    assert all(max(matplotlib.colors.to_rgb(t.get_color())) <= 0.3 for t in texts)  # dark, not light grey
    ax.figure.canvas.draw()  # Agg: a glyph missing from the fonts is a warning here
    assert not [w for w in recwarn if "missing from" in str(w.message)]


def test_an_inset_zoom_in_the_emptiest_corner(textbook):
    X, y, fits = textbook
    ax = plt.subplots()[1]
    assert fastgd.plot.paths(fits, X, y, ax=ax, zoom=True, title=None) is ax
    assert ax.get_title() == "" and len(ax.get_lines()) == 3
    (inset,) = ax.child_axes
    theta, _ = lstsq(X, y)
    for point in [theta, *(res.path[-1] for res in fits)]:
        assert _contains(_limits(inset), point)
    (x0, y0), (x1, y1) = inset.get_position().get_points()
    (ax0, ay0), (ax1, ay1) = ax.get_position().get_points()
    points = np.concatenate([res.path for res in fits])
    u = (points[:, 0] - ax.get_xlim()[0]) / np.diff(ax.get_xlim())
    w = (points[:, 1] - ax.get_ylim()[0]) / np.diff(ax.get_ylim())
    u0, u1 = (x0 - ax0) / (ax1 - ax0), (x1 - ax0) / (ax1 - ax0)
    w0, w1 = (y0 - ay0) / (ay1 - ay0), (y1 - ay0) / (ay1 - ay0)
    covered = (u > u0) & (u < u1) & (w > w0) & (w < w1)
    assert covered.mean() < 0.01  # the inset hides (almost) none of the paths


def test_paths_zoom_and_title_errors(textbook):
    X, y, fits = textbook
    with pytest.raises(TypeError, match="zoom must be None, True or a matplotlib Axes"):
        fastgd.plot.paths(fits, X, y, zoom="yes")
    with pytest.raises(TypeError, match="title must be a str or None"):
        fastgd.plot.paths(fits, X, y, title=1)
    with pytest.raises(ValueError, match="xscale must be 'log' or 'linear'"):
        fastgd.plot.loss(fits, xscale="symlog")


def test_the_loss_axis_shows_the_epochs_where_sgd_and_minibatch_change(textbook):
    """Batch runs 1000 epochs, SGD and mini-batch 50: their 50 epochs take at least half the
    x-axis (on a linear axis they would be its first 5%)."""
    _, _, fits = textbook
    ax = fastgd.plot.loss(fits, labels=["Batch", "Stochastic", "Mini-batch"])
    assert ax.get_xscale() == "log" and ax.get_title() == fastgd.plot.LOSS_TITLE
    lo, hi = ax.get_xlim()
    assert lo <= 1 and hi >= 1000

    def at(epoch):
        return ax.transLimits.transform(ax.transScale.transform((epoch, 1.0)))[0]

    assert at(fits[1].n_epochs) - at(1) > 0.5
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Batch", "Stochastic", "Mini-batch"]
    assert "epoch" in ax.get_xlabel() and "MSE" in ax.get_ylabel()
    linear = fastgd.plot.loss(fits, xscale="linear", title=None)
    assert linear.get_xscale() == "linear" and linear.get_title() == ""


def test_demo_plot_to_a_path_it_cannot_write_is_one_line_before_the_demo(tmp_path, capsys):
    (tmp_path / "x_loss.png").mkdir()  # where the loss figure would go
    bad = [(tmp_path / "x.png", "x_loss.png is a directory"), (tmp_path / "no" / "p.png", "does not exist")]
    if sys.platform.startswith("linux"):  # os.access says yes to root here; opening it says no
        bad.append(("/proc/fastgd-paths.png", "cannot write /proc/fastgd-paths.png"))
    for path, words in bad:
        with pytest.raises(SystemExit) as info:
            main(["demo", "--plot", str(path)])
        assert info.value.code == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and err.startswith("fastgd: error: --plot ") and words in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x_loss.png"]  # nothing left behind
