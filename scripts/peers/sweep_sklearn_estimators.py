"""Fits every estimator scikit-learn lists (sklearn.utils.all_estimators) that
constructs with its defaults, on small classification, regression or
non-negative data, and pickles each (protocol 4) into OUT: 184 files with
scikit-learn 1.9.1. `mirror scan OUT` must report nothing at medium or above.

  .cache/venv-peers/bin/python scripts/peers/sweep_sklearn_estimators.py OUT
"""
import sys, os, pickle, warnings, joblib
warnings.filterwarnings("ignore")
import numpy as np
from sklearn.utils import all_estimators
from sklearn.datasets import make_classification, make_regression
out = sys.argv[1]
Xc, yc = make_classification(60, 6, n_informative=3, random_state=0)
Xr, yr = make_regression(60, 6, random_state=0)
Xp = np.abs(Xc)
ok = fail = 0
for name, Est in all_estimators():
    try:
        est = Est()
    except Exception:
        continue
    fitted = False
    for X, y in ((Xc, yc), (Xr, yr), (Xp, yc), (Xc, None), (Xp, None)):
        try:
            est.fit(X, y) if y is not None else est.fit(X)
            fitted = True
            break
        except Exception:
            continue
    try:
        with open(os.path.join(out, name + ".pkl"), "wb") as f:
            pickle.dump(est, f, protocol=4)
        ok += 1
    except Exception:
        fail += 1
print(ok, fail)
