package artifact

import (
	"testing"

	"mirror/internal/scan"
)

// TestEcosystemPrefixGadgets: the ecosystem prefixes added for real files
// (keras., tf_keras., gensim., scipy., torchvision., torchaudio., lightning,
// ultralytics, statsmodels., trl.) let those packages' classes be built, not
// their loaders run. A pickle that calls one of their functions (load_model,
// get_file, load_word2vec_format …) is at least high; one that calls a class
// whose constructor loads a graph from a path, runs an external binary,
// opens a stream or fetches a model or dataset is critical; an instance of
// the same class made the usual way (NEWOBJ, no constructor) stays quiet.
func TestEcosystemPrefixGadgets(t *testing.T) {
	call := func(mod, name string) []byte {
		return newPK(2).global(mod, name).str("/tmp/x").op(opTUPLE1, opREDUCE).stop()
	}
	functions := [][2]string{
		{"keras.saving", "load_model"}, {"keras.src.saving.saving_api", "load_model"},
		{"keras.models", "load_model"}, {"tf_keras.models", "load_model"},
		{"keras.utils", "get_file"}, {"keras.src.utils.file_utils", "get_file"},
		{"gensim.models.keyedvectors", "KeyedVectors.load_word2vec_format"},
		{"gensim.models.word2vec", "Word2Vec.load"},
		{"torchvision.datasets.utils", "download_url"}, {"torchvision.io", "read_file"},
		{"statsmodels.iolib.smpickle", "load_pickle"}, {"scipy.misc", "face"},
		{"ultralytics.utils.downloads", "attempt_download_asset"},
		{"lightning.pytorch.core.saving", "load_hparams_from_yaml"},
	}
	for _, fn := range functions {
		fs, _ := scanBytes(t, "fn.pkl", call(fn[0], fn[1]))
		if len(atOrAbove(fs, scan.High)) == 0 {
			t.Errorf("call of %s.%s: %v", fn[0], fn[1], fs)
		}
	}
	loaders := [][2]string{
		{"keras.layers", "TFSMLayer"}, {"keras.src.export.tfsm_layer", "TFSMLayer"},
		{"keras.src.export.export_lib", "TFSMLayer"}, {"keras.export", "TFSMLayer"},
		{"tf_keras.layers", "TFSMLayer"},
		{"gensim.models.wrappers", "LdaMallet"}, {"gensim.models.wrappers.ldamallet", "LdaMallet"},
		{"gensim.models.wrappers.dtmmodel", "DtmModel"}, {"gensim.models.wrappers", "LdaVowpalWabbit"},
		{"ultralytics.models.yolo.detect", "DetectionTrainer"}, {"ultralytics.engine.trainer", "BaseTrainer"},
		{"trl", "SFTTrainer"}, {"trl.trainer.dpo_trainer", "DPOTrainer"}, {"transformers", "TFTrainer"},
		{"lightning.pytorch.cli", "LightningCLI"}, {"pytorch_lightning.cli", "LightningCLI"},
	}
	for _, l := range loaders {
		fs, _ := scanBytes(t, "loader.pkl", call(l[0], l[1]))
		if len(withRule(atOrAbove(fs, scan.Critical), "pickle.dangerous_call")) == 0 {
			t.Errorf("call of %s.%s: %v", l[0], l[1], fs)
		}
		inst := newPK(2).global(l[0], l[1]).op(opEMPTY_TUPLE, opNEWOBJ).op(opEMPTY_DICT, opBUILD).stop()
		fs, _ = scanBytes(t, "instance.pkl", inst)
		if bad := atOrAbove(fs, scan.Medium); len(bad) != 0 {
			t.Errorf("instance of %s.%s: %v", l[0], l[1], bad)
		}
	}
	// Stream readers and writers are listed dangerous outright.
	for _, l := range [][2]string{{"torchaudio.io", "StreamReader"}, {"torchaudio.io", "StreamWriter"}, {"torchvision.io", "VideoReader"}} {
		fs, _ := scanBytes(t, "stream.pkl", call(l[0], l[1]))
		if len(atOrAbove(fs, scan.Critical)) == 0 {
			t.Errorf("call of %s.%s: %v", l[0], l[1], fs)
		}
	}
	// The classes real files hold, called as constructors, stay quiet.
	for _, c := range [][2]string{
		{"keras.src.layers.core.dense", "Dense"}, {"gensim.models.word2vec", "Word2Vec"},
		{"torchvision.models.resnet", "ResNet"}, {"trl.trainer.sft_config", "SFTConfig"},
		{"ultralytics.nn.tasks", "DetectionModel"}, {"scipy.interpolate._bsplines", "BSpline"},
	} {
		fs, _ := scanBytes(t, "class.pkl", newPK(2).global(c[0], c[1]).op(opEMPTY_TUPLE, opREDUCE).stop())
		if bad := atOrAbove(fs, scan.Medium); len(bad) != 0 {
			t.Errorf("class %s.%s built: %v", c[0], c[1], bad)
		}
	}
}
