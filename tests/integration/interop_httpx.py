# SPDX-License-Identifier: MIT
# httpx (with h2) for the interoperability matrix, run by Debian's Python:
# `interop_httpx.py PORT FILE` sends the JSON list of requests in FILE over one h2c connection by
# prior knowledge and prints a JSON list of answers (see interop_node.js for the format).
import base64
import json
import sys

import httpx

port, path = sys.argv[1], sys.argv[2]
out = []
with httpx.Client(http1=False, http2=True, timeout=20, base_url=f"http://127.0.0.1:{port}") as client:
    for r in json.load(open(path)):
        body = None if r["body"] is None else base64.b64decode(r["body"])
        try:
            resp = client.request(r["method"], httpx.URL(r["path"]), content=body, headers=r["headers"])
            if resp.http_version != "HTTP/2":
                out.append({"error": f"spoke {resp.http_version}"})
                continue
            out.append({"status": resp.status_code, "headers": dict(resp.headers),
                        "body": base64.b64encode(resp.content).decode()})
        except httpx.HTTPError as e:
            out.append({"error": repr(e)})
print(json.dumps(out))
