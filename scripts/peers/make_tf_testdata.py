"""Writes TensorFlow SavedModels whose graphs touch files or run Python (the ops
modelscan reports in SavedModels), for internal/scan/artifact's TestSavedModel.
Only each model's saved_model.pb is kept (the graph); nothing in them is run.

    .cache/venv-tf/bin/python scripts/peers/make_tf_testdata.py internal/scan/artifact/testdata/tensorflow
"""
import os
import shutil
import sys
import tempfile

import tensorflow as tf

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


class ReadFile(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def __call__(self, path):
        return tf.io.read_file(path)


class WriteFile(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def __call__(self, data):
        tf.io.write_file("/tmp/mirror-savedmodel-test", data)
        return data


class PyFunction(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def __call__(self, x):
        return tf.py_function(lambda v: v * 2, [x], tf.float32)


for name, module in {"read_file": ReadFile(), "write_file": WriteFile(), "py_function": PyFunction()}.items():
    tmp = tempfile.mkdtemp()
    try:
        tf.saved_model.save(module, tmp, signatures={"serving_default": module.__call__})
        shutil.copy(os.path.join(tmp, "saved_model.pb"), os.path.join(out, name + ".pb"))
    finally:
        shutil.rmtree(tmp)
print("wrote", sorted(os.listdir(out)))
