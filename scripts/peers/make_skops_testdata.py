"""Writes skops files with the real skops and scikit-learn: benign ones
(skops.io.dump of fitted estimators) and malicious ones (skops.io.dump of a
FunctionTransformer whose func runs code: os.system, eval, subprocess, an
operator function (CVE-2025-54412's OperatorFuncNode) and a bound method of
code.InteractiveInterpreter (CVE-2025-54413's MethodNode)).

  pip install --no-deps --target .cache/skops skops==0.16.0
  PYTHONPATH=.cache/skops .cache/venv-peers/bin/python scripts/peers/make_skops_testdata.py internal/scan/artifact/testdata/skops
"""
import builtins
import code
import operator
import os
import subprocess
import sys

import numpy as np
import skops.io as sio
from sklearn.datasets import load_iris
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.linear_model import LogisticRegression

out = sys.argv[1]
os.makedirs(os.path.join(out, "benign"), exist_ok=True)
os.makedirs(os.path.join(out, "malicious"), exist_ok=True)
X, y = load_iris(return_X_y=True)
benign = {
    "onehot": OneHotEncoder().fit([["a"], ["b"]]),
    "tfidf": TfidfVectorizer().fit(["apple banana cherry", "banana cherry dates"]),
    "log1p_scaler_logreg": make_pipeline(FunctionTransformer(np.log1p), StandardScaler(), LogisticRegression(max_iter=50)).fit(X[:, :2], y),
}
for name, model in benign.items():
    sio.dump(model, os.path.join(out, "benign", name + ".skops"))

# Each is skops.io.dump of a FunctionTransformer whose func runs code when the
# pipeline transforms data; get_untrusted_types lists what a caller must trust.
malicious = {
    "functiontransformer_os_system": os.system,
    "functiontransformer_builtins_eval": builtins.eval,
    "functiontransformer_subprocess": subprocess.check_output,
    # CVE-2025-54412: OperatorFuncNode (skops < 0.12 trusted operator functions)
    "operatorfuncnode_methodcaller": operator.methodcaller("system", "id"),
    "operatorfuncnode_attrgetter": operator.attrgetter("system"),
    # CVE-2025-54413: MethodNode (a bound method of an object skops rebuilds)
    "methodnode_interpreter_runsource": code.InteractiveInterpreter().runsource,
}
for name, func in malicious.items():
    sio.dump(make_pipeline(FunctionTransformer(func)), os.path.join(out, "malicious", name + ".skops"))
for d in ("benign", "malicious"):
    for f in sorted(os.listdir(os.path.join(out, d))):
        p = os.path.join(out, d, f)
        try:
            untrusted = sio.get_untrusted_types(file=p)
        except Exception as e:  # an edited schema skops itself cannot read
            untrusted = "error: %s" % e
        print(d, f, os.path.getsize(p), untrusted)
