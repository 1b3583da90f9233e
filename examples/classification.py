"""Logistic regression and softmax regression on the iris flowers (needs scikit-learn for the data),
as in the textbook's chapter 4: one feature, two classes, then all four features and three classes."""

import numpy as np
from sklearn.datasets import load_iris

import fastgd

iris = load_iris()
petal_width = iris.data[:, 3:]
is_virginica = iris.target == 2

# a little L2 (scikit-learn's LogisticRegression(C=1) on 150 samples: alpha = 1 / (C n)) keeps the
# weights finite on these nearly separable classes; Nesterov's momentum converges in ~170 steps (plain: ~1600)
binary = fastgd.fit(
    petal_width, is_virginica, loss="log", penalty="l2", alpha=1 / 150, optimizer="nesterov", method="batch",
    max_epochs=5000, random_state=42,
)  # fmt: skip
boundary = -binary.intercept / binary.coef[0]
print(f"logistic regression: P(virginica) = 1/2 at petal width {boundary:.2f} cm; "
      f"accuracy {np.mean(binary.predict(petal_width) == is_virginica):.3f}")  # fmt: skip
print("P(virginica | 1.7 cm, 1.5 cm) =", binary.predict_proba([[1.7], [1.5]])[:, 1].round(3))

X = iris.data[:, 2:]  # petal length and width, as the textbook
softmax = fastgd.fit(
    X, iris.target, loss="softmax", penalty="l2", alpha=1 / 150, standardize=True, optimizer="nesterov",
    method="batch", random_state=42,
)  # fmt: skip
print(f"softmax regression: accuracy {np.mean(softmax.predict(X) == iris.target):.3f}; "
      f"P(classes | 5 cm, 2 cm) = {softmax.predict_proba([[5.0, 2.0]]).round(3)}")  # fmt: skip
