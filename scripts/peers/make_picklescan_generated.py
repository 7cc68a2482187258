"""Writes the files that picklescan's tests/test_scanner.py builds at test time
(they are not in its tests/data folders), with CPython's own pickle and
zipfile, exactly as that test module builds them:

  python3 scripts/peers/make_picklescan_generated.py internal/scan/artifact/testdata/picklescan/generated

Each file's verdict (what test_scanner.py expects picklescan to say of it) is in
../expect.tsv. The pickles are byte-for-byte reproducible with the same Python
version; the zips carry the time they were written (zipfile.writestr's default),
so only those bytes change on a rerun.
"""
import collections
import io
import os
import pickle
import sys
import zipfile


class Malicious1:  # test_scanner.py's Malicious1
    def __reduce__(self):
        return eval, ("print('456')",)


class Malicious2:  # test_scanner.py's Malicious2
    def __reduce__(self):
        return os.system, ("ls -la",)


class Suspicious:  # test_scanner.py's Suspicious
    def __reduce__(self):
        return collections.Counter, ([1, 2, 3],)


def zip_of(name, data):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(name, data)
    return bytes(buffer.getbuffer())


files = {
    # test_list_globals, test_scan_pickle_bytes
    "scan_pickle_bytes_malicious1.pkl": pickle.dumps(Malicious1()),
    # test_scan_pickle_bytes_strict: collections.Counter is "suspicious", not an issue
    # unless strict=True
    "scan_pickle_bytes_suspicious.pkl": pickle.dumps(Suspicious()),
    # test_scan_zip_bytes (and the mock URL zip/malicious)
    "scan_zip_bytes_malicious1.zip": zip_of("data.pkl", pickle.dumps(Malicious1())),
    # test_scan_url's mocks: pickle/benign, pickle/malicious, zip/benign
    "url_pickle_benign.pkl": pickle.dumps({"a": 0, "b": 1, "c": 2}),
    "url_pickle_malicious.pkl": pickle.dumps(Malicious2()),
    "url_zip_benign.zip": zip_of("data.pkl", pickle.dumps({"a": 0, "b": 1, "c": 2})),
    # test_scan_huggingface_model's mock pytorch_model.bin
    "huggingface_pytorch_model.bin": zip_of("archive/data.pkl", pickle.dumps(Malicious1())),
}

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in files.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"{len(files)} files written to {out} with Python {sys.version.split()[0]}")
