// Package artifact finds code that runs when a model file is loaded, without
// loading it. It recognises formats by content (pickle protocols 0-5, PyTorch zip
// and legacy checkpoints, NumPy .npy/.npz, joblib, Keras .keras and .h5,
// safetensors, GGUF, ONNX, TensorFlow SavedModel graphs, and gzip/zlib/bzip2/xz/
// tar/7z wrappers), walks them with
// bounded memory (tensor data is skipped, by seeking where possible), and reports
// scan.Findings of type self_modification (code on load, or a structure built to
// attack or evade loaders) and prompt_artifacts (chat templates that smuggle
// instructions). Anything it cannot parse is returned as scan.NotScanned, never
// as clean.
//
// Pickles are executed symbolically: a stack machine tracks strings, containers,
// the memo and imported globals, so STACK_GLOBAL names assembled from memoised
// strings are resolved exactly, and names that are computed at load time are
// reported as such. Imports are judged against a list of dangerous modules and
// callables and allow-lists of what real model files of each ecosystem import
// (imports.go); any other import is reported at medium, naming it, and any other
// function called on load at high.
package artifact
