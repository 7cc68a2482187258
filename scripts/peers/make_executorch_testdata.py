"""Writes the ExecuTorch programs of internal/scan/artifact/testdata/executorch
with the real exporter (PyPI executorch 1.5.1 with torch 2.15, in
scripts/peers/setup.sh's venv: pip install --no-deps executorch flatbuffers
ruamel.yaml tabulate expecttest parameterized kgb).

  linear.pte          a Linear+ReLU, portable ATen kernels (clean)
  xnnpack.pte         the same lowered to XNNPACK (clean)
  custom_op.pte       a model calling a custom operator, mirror_test::scale
  custom_backend.pte  xnnpack.pte with its delegate id changed to one no
                      ExecuTorch backend registers (same length, so the
                      FlatBuffer stays valid)
  cuda_backend.pte    xnnpack.pte with its delegate id changed to CudaBackend
                      (AOTInductor: the payload would be a shared library)
  truncated.pte       xnnpack.pte cut inside its data segment

usage: python make_executorch_testdata.py OUT_DIR
"""
import os
import struct
import sys

import torch
from torch.export import export
from executorch.exir import EdgeCompileConfig, to_edge, to_edge_transform_and_lower
from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner


class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l = torch.nn.Linear(4, 2)

    def forward(self, x):
        return torch.relu(self.l(x))


# a custom operator and its out variant (ExecuTorch programs call out variants)
lib = torch.library.Library("mirror_test", "DEF")
lib.define("scale(Tensor x) -> Tensor")
lib.define("scale.out(Tensor x, *, Tensor(a!) out) -> Tensor(a!)")
lib.impl("scale", lambda x: x * 2, "CompositeExplicitAutograd")
lib.impl("scale", lambda x: torch.empty_like(x), "Meta")


def _scale_out(x, *, out):
    out.copy_(x * 2)
    return out


lib.impl("scale.out", _scale_out, "CompositeExplicitAutograd")
lib.impl("scale.out", lambda x, *, out: out, "Meta")


class C(torch.nn.Module):
    def forward(self, x):
        return torch.ops.mirror_test.scale(x)


def main(out):
    os.makedirs(out, exist_ok=True)
    x = (torch.randn(1, 4),)
    torch.manual_seed(0)
    m = M()

    def write(name, data):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

    write("linear.pte", to_edge(export(m, x)).to_executorch().buffer)
    xnn = to_edge_transform_and_lower(export(m, x), partitioner=[XnnpackPartitioner()]).to_executorch().buffer
    write("xnnpack.pte", xnn)
    cfg = EdgeCompileConfig(_check_ir_validity=False)
    write("custom_op.pte", to_edge(export(C(), x), compile_config=cfg).to_executorch().buffer)

    old = b"XnnpackBackend"
    i = xnn.index(old)
    assert struct.unpack_from("<I", xnn, i - 4)[0] == len(old)
    write("custom_backend.pte", xnn[:i] + b"ZnnpackBackend" + xnn[i + len(old):])
    new = b"CudaBackend"
    cuda = bytearray(xnn)
    struct.pack_into("<I", cuda, i - 4, len(new))
    cuda[i:i + len(old) + 1] = new + b"\0" * (len(old) + 1 - len(new))
    write("cuda_backend.pte", bytes(cuda))
    # the extended header's segment base (offset 24) and the data after it
    base = struct.unpack_from("<Q", xnn, 24)[0]
    assert xnn[8:12] == b"eh00" and 0 < base < len(xnn), (xnn[8:12], base, len(xnn))
    write("truncated.pte", xnn[: base + 8])


if __name__ == "__main__":
    main(sys.argv[1])
