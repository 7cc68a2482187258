"""Writes hostile variants of the Hugging Face repository files that Mirror
recognises through content or through the model beside them (TFLite operators,
OpenVINO extensions and weights, ONNX external data, TensorFlow checkpoint
shards, Flax msgpack, sentencepiece, sharded-checkpoint indexes), for
internal/scan/artifact's TestHFHostile. Nothing written here is loaded or run.
The real files are made by the real libraries (TensorFlow's TFLite converter)
or copied from the benign corpus (testdata/real) and then damaged byte by byte.

    .cache/venv-tf/bin/python scripts/peers/make_hf_hostile.py internal/scan/artifact/testdata/real internal/scan/artifact/testdata/hf_hostile
"""
import json
import os

import numpy as np
import pickle
import shutil
import sys

real, out = sys.argv[1], sys.argv[2]
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
repo = os.path.join(real, "hf", "tiny-repo")


def case(name, *files):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    for f in files:
        shutil.copy(os.path.join(repo, f) if not os.path.isabs(f) and not f.startswith(real) else f, d)
    return d


class Payload:  # pickled, never unpickled here
    def __reduce__(self):
        return (os.system, ("echo mirror-test",))


payload = pickle.dumps(Payload(), protocol=4)

# TFLite: a graph reading a file, converted with the Flex delegate (FlexReadFile)
# and as a plain custom op (ReadFile), by TensorFlow's own converter.
import tensorflow as tf


@tf.function(input_signature=[tf.TensorSpec([], tf.string)])
def read(path):
    return tf.strings.length(tf.io.read_file(path))


for name, flex in [("tflite_flex_read_file", True), ("tflite_custom_op", False)]:
    conv = tf.lite.TFLiteConverter.from_concrete_functions([read.get_concrete_function()], read)
    if flex:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    else:
        conv.allow_custom_ops = True
    d = case(name)
    with open(os.path.join(d, "model.tflite"), "wb") as f:
        f.write(conv.convert())

# OpenVINO: a layer from an extension opset; weights cut short; weights with a
# payload after the tensors.
ov = lambda f: os.path.join("openvino", f)
d = case("openvino_extension", ov("openvino_model.xml"), ov("openvino_model.bin"))
x = os.path.join(d, "openvino_model.xml")
src = open(x).read()
assert 'type="Add" version="opset1"' in src
open(x, "w").write(src.replace('type="Add" version="opset1"', 'type="MyFusedAdd" version="my_extension"'))
d = case("openvino_truncated", ov("openvino_model.xml"), ov("openvino_model.bin"))
b = os.path.join(d, "openvino_model.bin")
open(b, "r+b").truncate(36)
d = case("openvino_appended", ov("openvino_model.xml"), ov("openvino_model.bin"))
with open(os.path.join(d, "openvino_model.bin"), "ab") as f:
    f.write(payload)

# ONNX external data: a length past the end of the data file; a payload after
# the tensors; a location outside the folder.
import onnx

m = onnx.load(os.path.join(repo, "onnx", "model.onnx"), load_external_data=False)
d = case("onnx_past_end", os.path.join("onnx", "model.onnx_data"))
m2 = onnx.ModelProto()
m2.CopyFrom(m)
for e in m2.graph.initializer[0].external_data:
    if e.key == "length":
        e.value = "4096"
onnx.save(m2, os.path.join(d, "model.onnx"))
d = case("onnx_appended", os.path.join("onnx", "model.onnx"), os.path.join("onnx", "model.onnx_data"))
with open(os.path.join(d, "model.onnx_data"), "ab") as f:
    f.write(payload)
d = case("onnx_escape")
m3 = onnx.ModelProto()
m3.CopyFrom(m)
for t in m3.graph.initializer:
    for e in t.external_data:
        if e.key == "location":
            e.value = "../../../../etc/passwd"
onnx.save(m3, os.path.join(d, "model.onnx"))

# TensorFlow checkpoint: a shard without its index, a shard cut short, a shard
# with a payload after the tensors.
ck = os.path.join(real, "tensorflow", "checkpoints", "tf2")
d = case("tf_ckpt_orphan", os.path.join(ck, "ckpt-1.data-00000-of-00001"))
d = case("tf_ckpt_truncated", os.path.join(ck, "ckpt-1.index"), os.path.join(ck, "ckpt-1.data-00000-of-00001"))
open(os.path.join(d, "ckpt-1.data-00000-of-00001"), "r+b").truncate(40)
d = case("tf_ckpt_appended", os.path.join(ck, "ckpt-1.index"), os.path.join(ck, "ckpt-1.data-00000-of-00001"))
with open(os.path.join(d, "ckpt-1.data-00000-of-00001"), "ab") as f:
    f.write(payload)

# Flax-style msgpack whose bytes value is a pickle (msgpack-numpy unpickles
# object arrays); a sentencepiece model with a field ModelProto does not have.
import msgpack

d = case("msgpack_pickle")
with open(os.path.join(d, "flax_model.msgpack"), "wb") as f:
    f.write(msgpack.packb({"params": {"w": payload, "n": 3}}, use_bin_type=True))
d = case("sentencepiece_bad_field", "tokenizer.model")
with open(os.path.join(d, "tokenizer.model"), "ab") as f:
    f.write(b"\x4a\x03abc")  # field 9, 3 bytes

# A sharded checkpoint index mapping a weight outside the folder.
d = case("weight_map_escape")
with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": 64}, "weight_map": {"lm_head.weight": "../../shared/evil.bin",
                                                             "model.norm.weight": "pytorch_model-00001-of-00001.bin"}}, f)

for root, _, files in sorted(os.walk(out)):
    for f in sorted(files):
        print(os.path.join(root, f), os.path.getsize(os.path.join(root, f)))

# A TF1-style frozen GraphDef (frozen_inference_graph.pb) whose graph reads a
# file, written by TensorFlow; and a benign one (in testdata/real by
# make_real_corpus.py's tensorflow step).
g = tf.Graph()
with g.as_default():
    p = tf.compat.v1.placeholder(tf.string, [], name="path")
    tf.io.read_file(p, name="contents")
d = case("graphdef_read_file")
tf.io.write_graph(g.as_graph_def(), d, "frozen_inference_graph.pb", as_text=False)

# Core ML: a neural network with a custom layer (an application class), and ML
# Program weights cut short.
import coremltools as ct
from coremltools.models import datatypes
from coremltools.models.neural_network import NeuralNetworkBuilder
from coremltools.proto import NeuralNetwork_pb2

nb = NeuralNetworkBuilder([("x", datatypes.Array(4))], [("y", datatypes.Array(4))])
nb.add_custom(name="evil", input_names=["x"], output_names=["y"],
              custom_proto_spec=NeuralNetwork_pb2.CustomLayerParams(className="EvilLayer"))
d = case("coreml_custom_layer")
ct.utils.save_spec(nb.spec, os.path.join(d, "model.mlmodel"))
pkg = os.path.join(repo, "coreml", "fill-mask", "float32_model.mlpackage", "Data", "com.apple.CoreML")
d = case("coreml_weights_truncated", os.path.join(pkg, "weights", "weight.bin"))
open(os.path.join(d, "weight.bin"), "r+b").truncate(1024)

# A Keras 2 (tf_keras) SavedModel's keras_metadata.pb with a Lambda layer: its
# marshalled bytecode, which Keras runs when it rebuilds the model.
import tempfile
import tf_keras

lm = tf_keras.Sequential([tf_keras.Input((4,)), tf_keras.layers.Lambda(lambda x: x * 2), tf_keras.layers.Dense(2)])
with tempfile.TemporaryDirectory() as tmp:
    lm.save(os.path.join(tmp, "sm"), save_format="tf")
    d = case("keras_metadata_lambda", os.path.join(tmp, "sm", "keras_metadata.pb"))

# An ONNX test-data tensor whose data is external, at a path outside the folder.
from onnx import numpy_helper

t = numpy_helper.from_array(np.ones(4, np.float32), "x")
onnx.external_data_helper.set_external_data(t, location="../../../../etc/passwd", offset=0, length=16)
t.ClearField("raw_data")
d = case("onnx_tensor_escape")
with open(os.path.join(d, "input_0.pb"), "wb") as f:
    f.write(t.SerializeToString())
