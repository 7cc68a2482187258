"""Schemathesis hooks for .ci/fuzzapi.sh: sign the fuzzer in as real users.

Every request to a route that needs a signed-in user carries `Authorization: Bearer
TOKEN` of the user that .ci/fuzzapi.sh registered (FUZZ_EMAIL), and every request to
an admins' route the token of the admin it registered and granted (FUZZ_ADMIN_EMAIL);
both share FUZZ_PASSWORD, on FUZZ_BASE_URL. A token is fetched by a real login and
fetched again after any 401, so fuzzing POST /api/v1/auth/logout (which revokes the
token) does not leave the other routes fuzzed only as far as their 401.
"""

import json
import os
import urllib.request

import schemathesis

# The admins' routes; every other /api/v1 route but register and login needs a user.
ADMIN_PATHS = r"^/api/v1/(generations|feedback/)"
USER_PATHS = r"^/api/v1/(?!auth/register|auth/login|generations|feedback/)"


def login(email):
    body = json.dumps({"email": email, "password": os.environ["FUZZ_PASSWORD"]}).encode()
    req = urllib.request.Request(
        os.environ["FUZZ_BASE_URL"] + "/api/v1/auth/login",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=20) as resp:
        return json.load(resp)["access_token"]


def bearer(case, token):
    case.headers = case.headers or {}
    case.headers["Authorization"] = f"Bearer {token}"


@schemathesis.auth(refresh_interval=600, retry_on=[401]).apply_to(path_regex=USER_PATHS)
class UserLogin:
    def get(self, case, context):
        return login(os.environ["FUZZ_EMAIL"])

    def set(self, case, data, context):
        bearer(case, data)


@schemathesis.auth(refresh_interval=600, retry_on=[401]).apply_to(path_regex=ADMIN_PATHS)
class AdminLogin:
    def get(self, case, context):
        return login(os.environ["FUZZ_ADMIN_EMAIL"])

    def set(self, case, data, context):
        bearer(case, data)
