"""Writes the 7-Zip test archives in internal/scan/artifact/testdata/7z with
py7zr (from PyPI). The pickles inside are built here with the pickle module's
own opcodes; nothing in them is run.

    .cache/venv-peers/bin/python scripts/peers/make_7z_testdata.py internal/scan/artifact/testdata/7z
"""
import os
import pickle
import sys

import py7zr

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


class Evil:
    def __reduce__(self):
        return (eval, ("__import__('os').system('id')",))


evil = pickle.dumps(Evil(), protocol=4)
benign = pickle.dumps({"weights": [0.5, 1.5], "name": "tiny"}, protocol=4)


def write(name, files, **kw):
    with py7zr.SevenZipFile(os.path.join(out, name), "w", **kw) as z:
        for arcname, data in files.items():
            z.writestr(data, arcname)


write("malicious_lzma2.7z", {"data.pkl": evil})
write("malicious_solid_second.7z", {"a/readme.txt": b"hello\n" * 50, "a/model.pkl": evil})
write("malicious_lzma.7z", {"model.bin": evil}, filters=[{"id": py7zr.FILTER_LZMA}])
write("malicious_bzip2.7z", {"model.bin": evil}, filters=[{"id": py7zr.FILTER_BZIP2}])
write("malicious_copy.7z", {"model.bin": evil}, filters=[{"id": py7zr.FILTER_COPY}])
write("benign.7z", {"config.json": b'{"hidden_size": 8}', "data.pkl": benign})
write("encrypted.7z", {"data.pkl": evil}, password="secret")
write("big_dictionary.7z", {"data.pkl": evil}, filters=[{"id": py7zr.FILTER_LZMA2, "dict_size": 1 << 28}])
write("ppmd.7z", {"data.pkl": evil}, filters=[{"id": py7zr.FILTER_PPMD, "order": 6, "mem": 24}])

# Decompression bombs: 1.5 GiB of zeros declared in a file of a few hundred KiB
# (LZMA2 squeezes runs of zeros far past DEFLATE's ~1032:1), with the pickle
# behind it in the same solid stream, and the zeros alone.
zeros = os.path.join(out, ".zeros.tmp")
with open(zeros, "wb") as f:
    f.truncate(3 << 29)
try:
    with py7zr.SevenZipFile(os.path.join(out, "bomb_solid.7z"), "w") as z:
        z.write(zeros, "zeros.bin")
        z.writestr(evil, "model.pkl")
finally:
    os.remove(zeros)
print("wrote", sorted(os.listdir(out)))
