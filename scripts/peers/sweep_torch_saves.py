"""torch.save of what training code saves: whole modules and state dicts
(Transformer, LSTM, GRU, conv stacks with LazyLinear, embeddings, attention,
weight/spectral norm, pruning), optimizer and scheduler states, GradScaler, RNG
states, tensors of every dtype (sparse, CSR, fp8, quantized), a dynamically
quantized model, TorchScript (script and trace) and torch.export, into OUT.

  .cache/venv-peers/bin/python scripts/peers/sweep_torch_saves.py OUT
"""
import sys, os, warnings, io
warnings.filterwarnings("ignore")
import torch, torch.nn as nn
import torch.nn.utils.prune
out = sys.argv[1]
def save(name, obj):
    try:
        torch.save(obj, os.path.join(out, name + ".pt"))
    except Exception as e:
        print("skip", name, type(e).__name__, str(e)[:80])
mods = {
 "transformer": nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16),
 "lstm": nn.LSTM(4, 8, 2, batch_first=True), "gru": nn.GRU(4, 8),
 "conv": nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.1), nn.Flatten(), nn.LazyLinear(2)),
 "embedding": nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4), nn.GELU()),
 "mha": nn.MultiheadAttention(8, 2),
 "weight_norm": nn.utils.parametrizations.weight_norm(nn.Linear(4, 4)),
 "spectral_norm": nn.utils.parametrizations.spectral_norm(nn.Linear(4, 4)),
 "old_weight_norm": nn.utils.weight_norm(nn.Linear(4, 4)),
 "pruned": nn.utils.prune.l1_unstructured(nn.Linear(4, 4), "weight", 0.5),
}
for k, m in mods.items():
    save("whole_" + k, m)
    save("state_" + k, m.state_dict())
lin = nn.Linear(4, 2)
for optname in ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "LBFGS"]:
    opt = getattr(torch.optim, optname)(lin.parameters(), lr=0.1)
    if optname != "LBFGS":
        lin(torch.randn(2, 4)).sum().backward(); opt.step()
    save("optim_" + optname, opt.state_dict())
opt = torch.optim.SGD(lin.parameters(), lr=0.1)
for sname, s in {"step": torch.optim.lr_scheduler.StepLR(opt, 1), "cos": torch.optim.lr_scheduler.CosineAnnealingLR(opt, 10),
                 "onecycle": torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=10), "plateau": torch.optim.lr_scheduler.ReduceLROnPlateau(opt),
                 "lambda": torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.9 ** e)}.items():
    save("sched_" + sname, s.state_dict())
save("gradscaler", torch.amp.GradScaler("cpu").state_dict() if hasattr(torch, "amp") else {})
save("rng_state", {"python": __import__("random").getstate(), "numpy": __import__("numpy").random.get_state(), "cpu": torch.get_rng_state()})
save("tensors", {"f16": torch.zeros(2, dtype=torch.float16), "bf16": torch.zeros(2, dtype=torch.bfloat16), "i8": torch.zeros(2, dtype=torch.int8),
                 "bool": torch.zeros(2, dtype=torch.bool), "complex": torch.zeros(2, dtype=torch.complex64), "sparse": torch.eye(3).to_sparse(),
                 "csr": torch.eye(3).to_sparse_csr(), "nested_list": [torch.ones(1)] * 3, "param": nn.Parameter(torch.ones(2)), "size": torch.Size([2, 3]),
                 "dtype": torch.float32, "device": torch.device("cpu"), "fp8": torch.zeros(2).to(torch.float8_e4m3fn)})
q = torch.ao.quantization.quantize_dynamic(nn.Sequential(nn.Linear(4, 4)), {nn.Linear}, dtype=torch.qint8)
save("quant_dynamic_whole", q); save("quant_dynamic_state", q.state_dict())
save("qtensor", torch.quantize_per_tensor(torch.randn(4), 0.1, 0, torch.quint8))
ts = torch.jit.script(nn.Linear(4, 2)); ts.save(os.path.join(out, "scripted.pt"))
tr = torch.jit.trace(nn.Sequential(nn.Linear(4, 2), nn.ReLU()), torch.randn(1, 4)); tr.save(os.path.join(out, "traced.pt"))
try:
    ep = torch.export.export(nn.Linear(4, 2), (torch.randn(1, 4),)); torch.export.save(ep, os.path.join(out, "exported.pt2"))
except Exception as e:
    print("skip export", e)
print(len(os.listdir(out)))
