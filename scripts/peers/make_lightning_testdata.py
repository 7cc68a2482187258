"""Writes a PyTorch Lightning checkpoint (Trainer.fit of a tiny module, with
argparse.Namespace hyper-parameters, a torchmetrics metric, Adam and StepLR,
ModelCheckpoint and EarlyStopping callbacks), its hparams.yaml, and torch.save
of whole torchvision and Lightning objects, with the real libraries:

  pip install --no-deps --target .cache/pl pytorch-lightning==2.6.6 lightning-utilities==0.15.3 torchmetrics==1.9.0 torchvision==0.29.2 pillow
  PYTHONPATH=.cache/pl .cache/venv-peers/bin/python scripts/peers/make_lightning_testdata.py OUT

testdata/real/lightning keeps tiny.ckpt, hparams.yaml and torchvision_transforms.pt
(the whole-model files are megabytes, and whole_lightning_module.pt pickles the
script's own class, __main__.Tiny, which Mirror reports medium as it should).
"""
import os, sys, argparse, warnings
warnings.filterwarnings("ignore")
out = sys.argv[1]
import torch
import pytorch_lightning as pl
from torch.utils.data import DataLoader, TensorDataset
import torchmetrics

class Tiny(pl.LightningModule):
    def __init__(self, lr=0.01, hidden=4, args=None):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
        self.metric = torchmetrics.MeanSquaredError()
    def training_step(self, batch, i):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.metric(self.net(x), y)
        self.log("loss", loss)
        return loss
    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, 1)]

ds = TensorDataset(torch.randn(8, 3), torch.randn(8, 1))
m = Tiny(args=argparse.Namespace(a=1))
cb = pl.callbacks.ModelCheckpoint(dirpath=out, filename="tiny")
t = pl.Trainer(max_epochs=1, logger=pl.loggers.CSVLogger(out), callbacks=[cb, pl.callbacks.EarlyStopping("loss")], enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
t.fit(m, DataLoader(ds, batch_size=4))
torch.save(m, os.path.join(out, "whole_lightning_module.pt"))
import torchvision
torch.save(torchvision.models.resnet18(weights=None), os.path.join(out, "torchvision_resnet18_whole.pt"))
torch.save(torchvision.models.mobilenet_v3_small(weights=None).state_dict(), os.path.join(out, "torchvision_mobilenet_state.pt"))
torch.save(torchvision.transforms.Compose([torchvision.transforms.Resize(32), torchvision.transforms.Normalize([0.5], [0.5])]), os.path.join(out, "torchvision_transforms.pt"))
print(sorted(os.listdir(out)))
