"""Schemathesis hooks for .ci/fuzzapi.sh: sign the fuzzer in as a real user.

Every request to a route that needs a signed-in user carries `Authorization: Bearer TOKEN` of the user that
.ci/fuzzapi.sh registered (FUZZ_BASE_URL, FUZZ_EMAIL, FUZZ_PASSWORD). The token is
fetched by a real login and fetched again after any 401, so fuzzing
POST /api/v1/auth/logout (which revokes the token) does not leave the other routes
fuzzed only as far as their 401.
"""

import json
import os
import urllib.request

import schemathesis


@schemathesis.auth(refresh_interval=600, retry_on=[401]).apply_to(
    path_regex=r"^/api/v1/(scans|artifacts|auth/logout|auth/me)"
)
class MirrorLogin:
    def get(self, case, context):
        body = json.dumps({"email": os.environ["FUZZ_EMAIL"], "password": os.environ["FUZZ_PASSWORD"]}).encode()
        req = urllib.request.Request(
            os.environ["FUZZ_BASE_URL"] + "/api/v1/auth/login",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=20) as resp:
            return json.load(resp)["access_token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
