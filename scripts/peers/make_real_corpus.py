"""Writes small benign model files with the real libraries (installed from PyPI)
into a folder: every format Mirror reads that these libraries write. Run with the
venv that scripts/peers/setup.sh makes:

    .cache/venv-peers/bin/python scripts/peers/make_real_corpus.py internal/scan/artifact/testdata/real

TensorFlow does not share a venv with torch here (their pins clash and both are
large): its files come from a venv of its own, running only that step:

    .cache/venv-tf/bin/python scripts/peers/make_real_corpus.py internal/scan/artifact/testdata/real tensorflow hf_tf

(.cache/venv-tf holds tensorflow-cpu, tf_keras, sentencepiece, openvino,
openvino-tokenizers, transformers, flax, onnx, coremltools, pillow and pyarrow
from PyPI.)
The "hf" and "hf_tf" steps together write one Hugging Face repository layout,
hf/tiny-repo: sharded safetensors and pytorch_model.bin with their index JSONs,
config and generation config, a tokenizer with special tokens and a chat
template, a model card and .gitattributes, a sentencepiece tokenizer.model,
flax_model.msgpack, tf_model.h5, model.tflite, ONNX with external data, OpenVINO
IR, a Core ML .mlpackage, GGUF split shards and a NumPy .npz of embeddings.

Each library is optional: a missing one is reported and skipped. Files are kept
tiny (a few KiB) so they can live in testdata/.
"""
import os
import pickle
import sys

only = set(sys.argv[2:])  # step names to run; none: every step but the TensorFlow-venv ones
TF_STEPS = {"tensorflow", "hf_tf"}
os.environ.setdefault("KERAS_BACKEND", "tensorflow" if only & TF_STEPS else "torch")

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
        if (only and name not in only) or (not only and name in TF_STEPS):
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


@step("torch_export")
def _torch_export():
    # torch.export.save (the PT2 archive): weights as raw tensor bytes named
    # by data/weights/model_weights_config.json, a lifted tensor constant by
    # data/constants/model_constants_config.json, sample inputs by torch.save.
    import torch
    torch.manual_seed(0)

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l = torch.nn.Linear(4, 2)
            self.register_buffer("scale", torch.full((2,), 0.5))
            self.offset = torch.tensor([1.0, -1.0])  # a constant, not a buffer

        def forward(self, x):
            return torch.relu(self.l(x)) * self.scale + self.offset

    ep = torch.export.export(M(), (torch.randn(1, 4),))
    torch.export.save(ep, path("torch/exported.pt2"))


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


HF = "hf/tiny-repo"


@step("hf")
def _hf():
    import numpy as np
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=64, hidden_size=8, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
                      num_key_value_heads=1, max_position_embeddings=32)
    m = LlamaForCausalLM(cfg)
    d = os.path.join(out, HF)
    os.makedirs(d, exist_ok=True)
    m.save_pretrained(d, max_shard_size="2KB")  # model-0000N-of-0000M.safetensors + index
    # transformers 5 writes only safetensors; pytorch_model-*.bin shards and their
    # index as transformers 4 wrote them, with huggingface_hub's splitter (which
    # transformers 4 called) and torch.save.
    import json
    from huggingface_hub import split_torch_state_dict_into_shards
    sd = {k: v.contiguous() for k, v in m.state_dict().items()}
    split = split_torch_state_dict_into_shards(sd, filename_pattern="pytorch_model{suffix}.bin", max_shard_size="2KB")
    for fname, names in split.filename_to_tensors.items():
        torch.save({n: sd[n] for n in names}, os.path.join(d, fname))
    with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": split.metadata, "weight_map": split.tensor_to_filename}, f, indent=2, sort_keys=True)
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(["the cat sat on the mat", "a dog and a cat"] * 4,
                            trainers.BpeTrainer(vocab_size=64, special_tokens=["<unk>", "<s>", "</s>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.chat_template = ("{% for m in messages %}{{ bos_token if loop.first else '' }}<|{{ m['role'] }}|>\\n"
                          "{{ m['content'] }}{{ eos_token }}\\n{% endfor %}"
                          "{% if add_generation_prompt %}<|assistant|>\\n{% endif %}")
    fast.save_pretrained(d)
    from huggingface_hub import ModelCard, ModelCardData
    card = ModelCard.from_template(ModelCardData(license="apache-2.0", library_name="transformers", tags=["tiny"]),
                                   model_id="tiny-repo", model_description="A tiny Llama for scanner tests.")
    card.save(os.path.join(d, "README.md"))
    # The .gitattributes every new Hugging Face repository starts with (the hub
    # writes it when it creates the repository). Kept as hf/hub.gitattributes:
    # under its own name it would mark this repository's test files for Git LFS;
    # TestHFRepoFolderIsClean puts it back in a copy of the folder.
    with open(os.path.join(out, "hf", "hub.gitattributes"), "w") as f:
        for ext in ["7z", "arrow", "bin", "bz2", "ckpt", "ftz", "gz", "h5", "joblib", "mlmodel", "model", "msgpack",
                    "npy", "npz", "onnx", "ot", "parquet", "pb", "pickle", "pkl", "pt", "pth", "rar", "safetensors",
                    "tar", "tflite", "tgz", "wasm", "xz", "zip", "zst"]:
            f.write(f"*.{ext} filter=lfs diff=lfs merge=lfs -text\n")
        f.write("*tfevents* filter=lfs diff=lfs merge=lfs -text\n")
    emb = m.get_input_embeddings().weight.detach().numpy()
    np.savez(os.path.join(d, "embeddings.npz"), tokens=np.arange(emb.shape[0]), vectors=emb)
    import gguf
    g = gguf.GGUFWriter(os.path.join(d, "tiny.gguf"), "llama", split_max_tensors=1)
    g.add_block_count(1)
    g.add_tensor("token_embd.weight", emb[:8].copy())
    g.add_tensor("output_norm.weight", np.ones(8, dtype=np.float32))
    g.write_header_to_file()
    g.write_kv_data_to_file()
    g.write_tensors_to_file()
    g.close()
    for root, _, files in os.walk(d):
        made.extend(os.path.join(root, f) for f in files)


@step("hf_tf")
def _hf_tf():
    import numpy as np
    d = os.path.join(out, HF)
    os.makedirs(d, exist_ok=True)
    import sentencepiece as spm
    text = os.path.join(d, "sp.txt")
    with open(text, "w") as f:
        f.write("\n".join(["the cat sat on the mat", "a dog and a cat", "hello world", "models read tokens"] * 8))
    spm.SentencePieceTrainer.train(input=text, model_prefix=os.path.join(d, "tokenizer"), vocab_size=40,
                                   model_type="bpe", normalization_rule_name="identity", minloglevel=2)
    sp = os.path.join(out, "hf/sentencepiece")
    os.makedirs(sp, exist_ok=True)
    spm.SentencePieceTrainer.train(input=text, model_prefix=os.path.join(sp, "spiece"), vocab_size=24,
                                   model_type="unigram", normalization_rule_name="identity", minloglevel=2)
    for p in [text, os.path.join(d, "tokenizer.vocab"), os.path.join(sp, "spiece.vocab")]:
        os.remove(p)
    from flax import serialization
    params = {"params": {"dense": {"kernel": np.ones((4, 2), np.float32), "bias": np.zeros(2, np.float32)},
                         "step": np.int32(3)}}
    with open(os.path.join(d, "flax_model.msgpack"), "wb") as f:
        f.write(serialization.to_bytes(params))
    import tensorflow as tf
    import keras
    k = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
    # transformers' TF models saved their weights with Keras' save_weights as
    # tf_model.h5; Keras 3 insists on the .weights.h5 suffix, so rename.
    k.save_weights(os.path.join(d, "tf.weights.h5"))
    os.replace(os.path.join(d, "tf.weights.h5"), os.path.join(d, "tf_model.h5"))
    conv = tf.lite.TFLiteConverter.from_keras_model(k)
    with open(os.path.join(d, "model.tflite"), "wb") as f:
        f.write(conv.convert())
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = numpy_helper.from_array(np.arange(8, dtype=np.float32).reshape(4, 2), "w")
    b = numpy_helper.from_array(np.ones(2, np.float32), "b")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])],
                          "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [w, b])
    om = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    os.makedirs(os.path.join(d, "onnx"), exist_ok=True)
    import copy
    onnx.save(copy.deepcopy(om), os.path.join(d, "onnx", "model.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location="model.onnx_data", size_threshold=0)
    onnx.save(copy.deepcopy(om), os.path.join(d, "onnx", "model_dotted.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location="model_dotted.onnx.data", size_threshold=0)
    # Core ML, as bert-base-uncased ships it: coreml/fill-mask/float32_model.mlpackage
    # (Manifest.json, model.mlmodel and the ML Program's weights/weight.bin).
    import coremltools as ct
    from coremltools.converters.mil import Builder as mb

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 16))])
    def prog(x):
        w = np.linspace(-1, 1, 16 * 32, dtype=np.float32).reshape(32, 16)
        return mb.relu(x=mb.linear(x=x, weight=w, bias=np.ones(32, np.float32)))
    cm = ct.convert(prog, convert_to="mlprogram", compute_precision=ct.precision.FLOAT32)
    cm.save(os.path.join(d, "coreml", "fill-mask", "float32_model.mlpackage"))
    # The model's test data set, as the ONNX model zoo ships it: TensorProtos.
    os.makedirs(os.path.join(d, "onnx", "test_data_set_0"), exist_ok=True)
    x = numpy_helper.from_array(np.ones((1, 4), np.float32), "x")
    y = numpy_helper.from_array(np.array([[13.0, 17.0]], np.float32), "y")
    for name, t in [("input_0.pb", x), ("output_0.pb", y)]:
        with open(os.path.join(d, "onnx", "test_data_set_0", name), "wb") as f:
            f.write(t.SerializeToString())
    import openvino as ov
    ovm = ov.convert_model(os.path.join(d, "onnx", "model.onnx"))
    os.makedirs(os.path.join(d, "openvino"), exist_ok=True)
    ov.save_model(ovm, os.path.join(d, "openvino", "openvino_model.xml"), compress_to_fp16=False)
    # optimum-intel's tokenizer IRs, by openvino-tokenizers (its "extension" ops)
    # from the tokenizer the hf step wrote (run hf first; needs transformers here).
    try:
        from openvino_tokenizers import convert_tokenizer
        from transformers import AutoTokenizer
        ovt, ovd = convert_tokenizer(AutoTokenizer.from_pretrained(d), with_detokenizer=True)
        ov.save_model(ovt, os.path.join(d, "openvino", "openvino_tokenizer.xml"))
        ov.save_model(ovd, os.path.join(d, "openvino", "openvino_detokenizer.xml"))
    except (ImportError, OSError) as e:
        skipped.append(f"openvino tokenizer: {e}")
    for root, _, files in os.walk(d):
        made.extend(os.path.join(root, f) for f in files)
    # What model cards and repositories carry beside the weights: figures (Pillow),
    # an audio sample (the standard library's wave), evaluation data (pyarrow).
    from PIL import Image
    os.makedirs(os.path.join(d, "assets"), exist_ok=True)
    img = Image.new("RGB", (8, 8), (200, 30, 30))
    for ext in ["png", "jpg", "gif", "webp"]:
        img.save(os.path.join(d, "assets", f"figure.{ext}"))
    import wave
    with wave.open(os.path.join(d, "assets", "sample.wav"), "wb") as wv:
        wv.setnchannels(1)
        wv.setsampwidth(2)
        wv.setframerate(8000)
        wv.writeframes(np.arange(64, dtype=np.int16).tobytes())
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"prompt": ["a", "b"], "score": [0.5, 0.7]}), os.path.join(d, "assets", "eval.parquet"))
    made.extend(os.path.join(d, "assets", f) for f in os.listdir(os.path.join(d, "assets")))
    # TensorFlow checkpoints outside SavedModels: TF2 tf.train.Checkpoint (ckpt-1),
    # the same sharded in two, and TF1 tf.compat.v1.train.Saver (model.ckpt-5).
    c = os.path.join(out, "tensorflow/checkpoints")
    v = {"w": tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3)), "n": tf.Variable(7, dtype=tf.int64),
         "s": tf.Variable("tokenizer.json")}
    ck = tf.train.Checkpoint(**v)
    ck.save(os.path.join(c, "tf2", "ckpt"))
    try:
        policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=32)
        ck.save(os.path.join(c, "tf2_sharded", "ckpt"), options=tf.train.CheckpointOptions(
            experimental_sharding_callback=policy))
    except (AttributeError, TypeError) as e:
        skipped.append(f"tf2_sharded: {e}")
    g1 = tf.Graph()
    with g1.as_default():
        a = tf.compat.v1.get_variable("a", initializer=tf.constant([1.0, 2.0, 3.0]))
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=g1) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, os.path.join(c, "tf1", "model.ckpt"), global_step=5, write_meta_graph=False)
    for root, _, files in os.walk(c):
        made.extend(os.path.join(root, f) for f in files)
    # A Keras 2 (tf_keras) SavedModel, with the keras_metadata.pb Keras 3 no longer writes.
    import tf_keras
    tk = tf_keras.Sequential([tf_keras.Input((4,)), tf_keras.layers.Dense(3, activation="relu"), tf_keras.layers.Dense(2)])
    tk.save(os.path.join(out, "tensorflow", "tf_keras_savedmodel"), save_format="tf")
    for root, _, files in os.walk(os.path.join(out, "tensorflow", "tf_keras_savedmodel")):
        made.extend(os.path.join(root, f) for f in files)
    # A TF1 frozen graph: the GraphDef alone, constants folded in.
    g2 = tf.Graph()
    with g2.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 2], name="x")
        tf.nn.relu(tf.matmul(x, tf.constant([[1.0, 2.0], [3.0, 4.0]])) + 0.5, name="y")
    tf.io.write_graph(g2.as_graph_def(), os.path.join(out, "tensorflow"), "frozen_graph.pb", as_text=False)
    made.append("tensorflow/frozen_graph.pb")


print("made:", len(made), "files")
for s in skipped:
    print("skipped", s)
