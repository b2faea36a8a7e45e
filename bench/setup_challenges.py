#!/usr/bin/env python3
"""Prepares a code-check load test against a running nidan: one account with
two-step verification (two authenticator apps, enrolled through the API),
then N sign-in attempts waiting for a code, written one challenge per line.
Loopback only; bounded by N."""
import base64, hashlib, hmac, json, struct, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor

base, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
assert base.startswith("http://127.0.0.1:"), "loopback only"

def call(path, body=None, token=None, method="POST"):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"content-type": "application/json", **({"authorization": "Bearer " + token} if token else {})})
    with urllib.request.urlopen(req) as r:
        return json.load(r)

def totp(key, ahead=0):
    k = base64.b32decode(key.replace(" ", "") + "=" * (-len(key.replace(" ", "")) % 8))
    mac = hmac.new(k, struct.pack(">Q", int(time.time()) // 30 + ahead), hashlib.sha1).digest()
    o = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7fffffff) % 1000000)

email, password = "load@example.com", "correct horse battery"
token = call("/api/v1/signup", {"email": email, "password": password})["token"]
for role, name in (("primary", "Phone"), ("backup", "kagi")):
    app = call("/api/v1/wizard/apps", {"role": role, "name": name}, token)
    call(f"/api/v1/wizard/apps/{app['method_id']}/confirm", {"code": totp(app["secret"])}, token)
call("/api/v1/wizard/enable", {}, token)

def challenge(_):
    return call("/api/v1/signin", {"email": email, "password": password})["challenge"]

with ThreadPoolExecutor(8) as pool:
    challenges = list(pool.map(challenge, range(n)))
with open(out, "w") as f:
    f.write("\n".join(challenges) + "\n")
print(f"{len(challenges)} challenges written to {out}")
