"""Watch a fit as it runs: a callback sees every epoch and may stop it; progress=True draws a bar (tqdm)."""

import fastgd

X, y = fastgd.make_linear(10_000, 5, random_state=0)
target = fastgd.fit(X, y, method="normal").loss


def close_enough(epoch, state):
    print(f"epoch {epoch}: objective {state.objective:.6f}")
    return state.objective < target * (1 + 1e-3)  # stop within 0.1 % of the optimum


res = fastgd.fit(X, y, method="sgd", callback=close_enough, random_state=0)
print(res.message)

try:
    res = fastgd.fit(X, y, method="minibatch", progress=True, max_epochs=20, tol=0, random_state=0)
except ImportError as exc:  # tqdm is an optional extra
    print(exc)
