"""mitmproxy addon equivalent to egress's policy for the benchmark.

Host allowlist (CONNECT and inner requests; 403 otherwise), every
Authorization and Proxy-Authorization header stripped, and
"Authorization: Bearer <token>" injected from a secret file. Hosts are
mapped to fixed IPs (like egress's --resolve): the CONNECT target is
rewritten to the IP, so the upstream connection is dialled there and reused
for every request of the tunnel, while SNI, certificate verification and the
Host header keep the name.

Configured through the environment (set by bench/egress):
  BENCH_ALLOW_HOSTS  comma-separated host names
  BENCH_SECRET_FILE  file holding the token
  BENCH_RESOLVE      comma-separated HOST=IP
"""

import os

from mitmproxy import http

ALLOW = {h.strip().lower() for h in os.environ["BENCH_ALLOW_HOSTS"].split(",") if h.strip()}
with open(os.environ["BENCH_SECRET_FILE"], encoding="utf-8") as f:
    TOKEN = f.read().strip()
RESOLVE = dict(
    kv.split("=", 1) for kv in os.environ.get("BENCH_RESOLVE", "").split(",") if "=" in kv
)
RESOLVED = {ip: host for host, ip in RESOLVE.items()}


def _deny(flow: http.HTTPFlow, host: str) -> None:
    flow.response = http.Response.make(
        403,
        f"egress-bench: {host} is not an allowed host\n",
        {"Content-Type": "text/plain"},
    )


def http_connect(flow: http.HTTPFlow) -> None:
    host = flow.request.host.lower()
    if host not in ALLOW:
        _deny(flow, host)
        return
    if host in RESOLVE:
        # Dial the fixed IP; the client's SNI (the name) is what mitmproxy
        # sends upstream and verifies the certificate against.
        flow.request.data.host = RESOLVE[host]


def request(flow: http.HTTPFlow) -> None:
    if flow.response is not None:
        return
    host_header = flow.request.host_header or ""
    name = host_header.rsplit(":", 1)[0].lower() if host_header else ""
    if not name:
        name = RESOLVED.get(flow.request.host, flow.request.host).lower()
    if name not in ALLOW:
        _deny(flow, name)
        return
    if flow.request.host.lower() in RESOLVE:  # plain or absolute-form requests
        flow.request.data.host = RESOLVE[flow.request.host.lower()]
    flow.request.headers.pop("Authorization", None)
    flow.request.headers.pop("Proxy-Authorization", None)
    flow.request.headers["Authorization"] = "Bearer " + TOKEN


def responseheaders(flow: http.HTTPFlow) -> None:
    # Server-sent events must stream (mitmproxy buffers bodies otherwise).
    if flow.response is not None and flow.response.headers.get("content-type", "").startswith("text/event-stream"):
        flow.response.stream = True
