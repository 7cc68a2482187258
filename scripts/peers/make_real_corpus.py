"""Writes small benign model files with the real libraries (installed from PyPI)
into a folder: every format Mirror reads that these libraries write. Run with the
venv that scripts/peers/setup.sh makes:

    .cache/venv-peers/bin/python scripts/peers/make_real_corpus.py internal/scan/artifact/testdata/real

TensorFlow does not share a venv with torch here (their pins clash and both are
large): its files come from a venv of its own, running only that step:

    .cache/venv-tf/bin/python scripts/peers/make_real_corpus.py internal/scan/artifact/testdata/real tensorflow

Each library is optional: a missing one is reported and skipped. Files are kept
tiny (a few KiB) so they can live in testdata/.
"""
import os
import pickle
import sys

only = set(sys.argv[2:])  # step names to run; none: every step but tensorflow
os.environ.setdefault("KERAS_BACKEND", "tensorflow" if "tensorflow" in only else "torch")

out = sys.argv[1] if len(sys.argv) > 1 else "testdata/real"
os.makedirs(out, exist_ok=True)
made, skipped = [], []


def path(name):
    p = os.path.join(out, name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    made.append(name)
    return p


def step(name):
    def wrap(fn):
        if (only and name not in only) or (not only and name == "tensorflow"):
            return fn
        try:
            fn()
        except ImportError as e:  # library not installed
            skipped.append(f"{name}: {e}")
        return fn
    return wrap


@step("numpy")
def _numpy():
    import numpy as np
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(path("numpy/array.npy"), a)
    np.savez(path("numpy/arrays.npz"), a=a, b=np.arange(5))
    np.savez_compressed(path("numpy/arrays_compressed.npz"), a=a, b=np.arange(5))
    rec = np.zeros(3, dtype=[("x", "<f4"), ("y", "<i8")])
    np.save(path("numpy/structured.npy"), rec)
    with open(path("numpy/plain_dict_p4.pkl"), "wb") as f:
        pickle.dump({"lr": 0.001, "layers": [1, 2, 3], "arr": a}, f, protocol=4)
    with open(path("numpy/plain_dict_p0.pkl"), "wb") as f:
        pickle.dump({"lr": 0.001, "layers": [1, 2, 3], "name": "x"}, f, protocol=0)


@step("torch")
def _torch():
    import torch
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    torch.save(m.state_dict(), path("torch/state_dict.pt"))
    torch.save(m.state_dict(), path("torch/state_dict_legacy.pt"), _use_new_zipfile_serialization=False)
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    m(torch.randn(2, 4)).sum().backward()
    opt.step()
    torch.save({"model": m.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, path("torch/checkpoint.pth"))
    torch.save(m, path("torch/whole_module.pt"))  # a pickled nn.Module (torch classes only)
    torch.jit.save(torch.jit.script(m), path("torch/torchscript.pt"))
    torch.save({"half": torch.ones(2, dtype=torch.float16), "bf16": torch.ones(2, dtype=torch.bfloat16),
                "i64": torch.arange(3)}, path("torch/dtypes.pt"))


@step("safetensors")
def _safetensors():
    import numpy as np
    from safetensors.numpy import save_file
    save_file({"w": np.ones((2, 3), dtype=np.float32), "b": np.zeros(3, dtype=np.float16)},
              path("safetensors/model.safetensors"), metadata={"format": "np"})


@step("sklearn")
def _sklearn():
    import joblib
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier
    X = np.array([[0, 0], [1, 1], [0, 1], [1, 0]] * 5, dtype=float)
    y = np.array([0, 1, 1, 0] * 5)
    lr = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    with open(path("sklearn/pipeline.pkl"), "wb") as f:
        pickle.dump(lr, f)
    joblib.dump(lr, path("sklearn/pipeline.joblib"))
    joblib.dump(DecisionTreeClassifier(max_depth=2).fit(X, y), path("sklearn/tree.joblib"))
    joblib.dump(RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(X, y),
                path("sklearn/forest_compressed.joblib"), compress=3)


@step("xgboost")
def _xgboost():
    import numpy as np
    import xgboost as xgb
    X = np.random.RandomState(0).rand(20, 3)
    y = (X[:, 0] > 0.5).astype(int)
    b = xgb.XGBClassifier(n_estimators=2, max_depth=2).fit(X, y)
    b.save_model(path("xgboost/model.json"))
    b.save_model(path("xgboost/model.ubj"))
    with open(path("xgboost/model.pkl"), "wb") as f:
        pickle.dump(b, f)


@step("lightgbm")
def _lightgbm():
    import lightgbm as lgb
    import numpy as np
    X = np.random.RandomState(0).rand(40, 3)
    y = (X[:, 0] > 0.5).astype(int)
    m = lgb.LGBMClassifier(n_estimators=2, num_leaves=3, min_child_samples=2, verbose=-1).fit(X, y)
    m.booster_.save_model(path("lightgbm/model.txt"))
    with open(path("lightgbm/model.pkl"), "wb") as f:
        pickle.dump(m, f)


@step("onnx")
def _onnx():
    import onnx
    from onnx import TensorProto, helper
    node = helper.make_node("Relu", ["x"], ["y"])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])])
    onnx.save(helper.make_model(g), path("onnx/relu.onnx"))


@step("gguf")
def _gguf():
    import gguf
    import numpy as np
    w = gguf.GGUFWriter(path("gguf/tiny.gguf"), "llama")
    w.add_block_count(1)
    w.add_string("tokenizer.chat_template", "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}")
    w.add_tensor("w", np.ones((2, 2), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@step("transformers")
def _transformers():
    from transformers import BertConfig, BertModel
    cfg = BertConfig(vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8,
                     max_position_embeddings=16)
    m = BertModel(cfg)
    m.save_pretrained(path("transformers/tiny-bert/x")[:-2])
    made.pop()
    m.save_pretrained(os.path.join(out, "transformers/tiny-bert-bin"), safe_serialization=False)
    from transformers import BertTokenizerFast
    vocab = os.path.join(out, "transformers/vocab.txt")
    with open(vocab, "w") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c"]) + "\n")
    tok = BertTokenizerFast(vocab_file=vocab)
    tok.save_pretrained(os.path.join(out, "transformers/tiny-bert"))
    os.remove(vocab)


@step("pandas")
def _pandas():
    import pandas as pd
    import scipy.sparse as sp
    import numpy as np
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "t": pd.to_datetime(["2024-01-01", "2024-01-02"]),
                       "d": pd.to_timedelta([1, 2], unit="s"), "c": pd.Categorical(["u", "v"])})
    df.to_pickle(path("pandas/frame.pkl"))
    with open(path("pandas/series_p2.pkl"), "wb") as f:
        pickle.dump(pd.Series([1.0, 2.0], index=pd.RangeIndex(2)), f, protocol=2)
    with open(path("scipy/csr.pkl"), "wb") as f:
        pickle.dump(sp.csr_matrix(np.eye(3)), f)


@step("training_args")
def _training_args():
    import torch
    from transformers import TrainingArguments
    args = TrainingArguments(output_dir=os.path.join(out, "tmp-trainer"), report_to=[])
    torch.save(args, path("transformers/training_args.bin"))
    import shutil
    shutil.rmtree(os.path.join(out, "tmp-trainer"), ignore_errors=True)


@step("keras")
def _keras():
    import keras
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    m.save(path("keras/model.keras"))
    m.save(path("keras/model.h5"))
    f = keras.Sequential([keras.Input((8,)), keras.layers.Reshape((2, 4)), keras.layers.LSTM(3),
                          keras.layers.Dropout(0.1), keras.layers.Dense(2, activation="softmax")])
    f.save(path("keras/lstm.keras"))
    f.save_weights(path("keras/lstm.weights.h5"))
    # Keras 3 models pickle themselves: getattr(cls, "_unpickle_model")(BytesIO(.keras zip))
    with open(path("keras/model_pickled.pkl"), "wb") as fo:
        pickle.dump(m, fo)


@step("tensorflow")
def _tensorflow():
    import tensorflow as tf
    import keras
    tf.random.set_seed(0)

    class Scale(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable([[1.0, 2.0], [3.0, 4.0]], name="w")
            self.b = tf.Variable([0.5, -0.5], name="b")

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
        def __call__(self, x):
            return tf.nn.relu(tf.matmul(x, self.w) + self.b)

    m = Scale()
    d = path("tensorflow/module_savedmodel/saved_model.pb")
    made.pop()
    tf.saved_model.save(m, os.path.dirname(d), signatures={"serving_default": m.__call__})
    k = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
    k.export(os.path.join(out, "tensorflow", "keras_export"), format="tf_saved_model")
    k.save(path("tensorflow/keras_tf_backend.keras"))
    k.save(path("tensorflow/keras_tf_backend.h5"))
    for root, _, files in os.walk(os.path.join(out, "tensorflow")):
        made.extend(os.path.join(root, f) for f in files)


print("made:", len(made), "files")
for s in skipped:
    print("skipped", s)
