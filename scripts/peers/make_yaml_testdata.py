"""Writes YAML files with PyYAML's own dumper: benign ones holding what model
configs carry (NumPy scalars and dtypes, argparse.Namespace as Lightning's
hparams.yaml does, tuples, OrderedDict), and malicious ones (yaml.dump of an
object whose __reduce__ runs a command, and the tags PyYAML's unsafe loader
resolves: python/object/new, python/name, python/module).

  .cache/venv-peers/bin/python scripts/peers/make_yaml_testdata.py internal/scan/artifact/testdata/yaml
"""
import argparse
import collections
import os
import subprocess
import sys

import numpy as np
import yaml

out = sys.argv[1]
os.makedirs(os.path.join(out, "benign"), exist_ok=True)
os.makedirs(os.path.join(out, "malicious"), exist_ok=True)


def dump(kind, name, obj):
    with open(os.path.join(out, kind, name), "w") as f:
        yaml.dump(obj, f)


dump("benign", "hparams.yaml", {"args": argparse.Namespace(lr=0.001, layers=(64, 32)), "seed": 1})
dump("benign", "numpy_config.yaml", {"lr": np.float64(0.1), "steps": np.int64(10), "dtype": np.dtype("float32"),
                                     "shape": (3, 4), "order": collections.OrderedDict(a=1, b=2)})
dump("benign", "model_config.yaml", {"model": {"name": "tiny", "hidden": 32}, "optim": {"name": "adam", "lr": 1e-3}})


class Run:
    def __reduce__(self):
        return os.system, ("id",)


class Popen:
    def __reduce__(self):
        return subprocess.Popen, (["id"],)


dump("malicious", "reduce_os_system.yaml", {"model": {"init": Run()}})
dump("malicious", "reduce_popen.yaml", {"callbacks": [Popen()]})
with open(os.path.join(out, "malicious", "object_new_eval.yaml"), "w") as f:
    f.write("trainer:\n  hook: !!python/object/new:builtins.eval [\"__import__('os').system('id')\"]\n")
with open(os.path.join(out, "malicious", "name_exec.yml"), "w") as f:
    f.write("fn: !!python/name:builtins.exec\n")
with open(os.path.join(out, "malicious", "long_tag.yaml"), "w") as f:
    f.write("x: !<tag:yaml.org,2002:python/object/apply:subprocess.check_output> [[id]]\n")
for kind in ("benign", "malicious"):
    for name in sorted(os.listdir(os.path.join(out, kind))):
        with open(os.path.join(out, kind, name)) as f:
            text = f.read()
        # what PyYAML's unsafe loader would build: constructors resolved, nothing run
        try:
            list(yaml.parse(text))
            ok = "parses"
        except yaml.YAMLError as e:
            ok = "error: %s" % e
        print(kind, name, ok)
