"""Two agents behind Debian's nginx with TLS, configured by `deploy/nginx-agents.conf` as shipped
(ports and certificate paths swapped for the test's): a browser talks to them over https."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from aiortc import RTCPeerConnection
from browser import chromium_page, microphone_wav

from agent.llm_server import free_port
from agent.process import start_agent

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class Proxy:
    def __init__(self, https: int, http: int, certificate: Path):
        self.url = f"https://localhost:{https}"
        self.http_url = f"http://127.0.0.1:{http}"
        self.tls = ssl.create_default_context(cafile=str(certificate))

    def call(self, method: str, path: str, body: bytes | None = None, cookie: str | None = None):
        """(status, headers, body) of a request through the proxy, verified against our CA."""
        headers = {"Content-Type": "application/json"}
        if cookie:
            headers["Cookie"] = cookie
        request = urllib.request.Request(self.url + path, body, headers, method=method)
        try:
            with urllib.request.urlopen(request, context=self.tls, timeout=30) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "agent.pem", directory / "agent.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def nginx_config(directory: Path, ports: list[int], https: int, http: int, cert, key) -> Path:
    """The shipped config in a minimal main config that runs unprivileged files in `directory`."""
    site = (ROOT / "deploy" / "nginx-agents.conf").read_text()
    for shipped, port in zip(("7861", "7862"), ports, strict=True):
        site = site.replace(f"127.0.0.1:{shipped}", f"127.0.0.1:{port}")
    site = site.replace("listen 443 ssl", f"listen 127.0.0.1:{https} ssl")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http};")
    site = site.replace("https://$host$request_uri", f"https://$host:{https}$request_uri")
    site = site.replace("/etc/ssl/certs/voice-agent.pem", str(cert))
    site = site.replace("/etc/ssl/private/voice-agent.key", str(key))
    (directory / "site.conf").write_text(site)
    main = directory / "nginx.conf"
    main.write_text(
        f"user root;\nworker_processes 1;\npid {directory}/nginx.pid;\n"
        f"error_log {directory}/error.log warn;\nevents {{}}\nhttp {{\n"
        f"  access_log {directory}/access.log;\n"
        + "".join(
            f"  {kind}_temp_path {directory}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"  include {directory}/site.conf;\n}}\n"
    )
    return main


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    if not Path(NGINX).exists():
        pytest.fail("Debian nginx is not installed (apt-get install nginx)")
    directory = tmp_path_factory.mktemp("nginx")
    agents = [
        start_agent(directory / f"agent-{name}.log", f"server.node_name={name}")
        for name in ("a1", "a2")
    ]
    https, http = free_port(), free_port()
    cert, key = self_signed(directory)
    config = nginx_config(directory, [int(a.url.rsplit(":", 1)[1]) for a in agents], https, http,
                          cert, key)  # fmt: skip
    check = subprocess.run([NGINX, "-t", "-c", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    nginx = subprocess.Popen([NGINX, "-c", str(config), "-g", "daemon off;"])
    proxy = Proxy(https, http, cert)
    deadline = time.monotonic() + 20
    while True:
        try:
            if proxy.call("GET", "/health")[0] == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, "nginx did not come up"
        time.sleep(0.2)
    yield proxy
    nginx.terminate()
    nginx.wait(10)
    for agent in agents:
        agent.stop()


def an_offer() -> str:
    async def make() -> str:
        pc = RTCPeerConnection()
        pc.addTransceiver("audio")
        pc.createDataChannel("rtvi")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        return sdp

    return asyncio.run(make())


def test_plain_http_is_redirected_to_https(proxy):
    request = urllib.request.Request(proxy.http_url + "/health", method="GET")
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(request, timeout=10)
    assert refused.value.code == 301
    assert refused.value.headers["Location"].startswith("https://")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_a_sessions_trickled_candidates_reach_the_agent_that_holds_it(proxy):
    for _ in range(3):
        status, headers, body = proxy.call(
            "POST", "/api/offer", json.dumps({"sdp": an_offer(), "type": "offer"}).encode()
        )
        assert status == 200, body
        cookie = headers["Set-Cookie"].split(";")[0]
        assert cookie in ("agent_node=a1", "agent_node=a2")
        patch = json.dumps(
            {
                "pc_id": json.loads(body)["pc_id"],
                "candidates": [
                    {
                        "candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
                        "sdpMid": "0",
                        "sdpMLineIndex": 0,
                    }
                ],
            }  # fmt: skip
        ).encode()
        # Whatever least_conn would pick, every PATCH lands where the session is (else a 404).
        for _ in range(4):
            status, _, body = proxy.call("PATCH", "/api/offer", patch, cookie=cookie)
            assert status == 200, body


def test_the_page_over_https_holds_a_spoken_turn(proxy, embedded_engine, tmp_path):
    microphone = microphone_wav(embedded_engine, tmp_path / "mic.wav")
    with chromium_page(microphone, "--ignore-certificate-errors") as page:
        page.goto(proxy.url)
        assert page.evaluate("() => location.protocol") == "https:"
        page.get_by_role("button", name="Connect").click()
        page.wait_for_function("() => window.agentUi.state === 'connected'", timeout=30000)
        page.locator(".transcript li.user", has_text="capital").wait_for(timeout=30000)
        page.locator(".transcript li.bot").first.wait_for(timeout=30000)
        page.wait_for_function("() => window.agentUi.metrics.v2v.length > 0", timeout=30000)
        page.get_by_role("button", name="Disconnect").click()


def test_an_offer_flood_from_one_address_is_refused_at_the_edge(proxy):
    # Last in the module: it empties this address's offer allowance (1/s, burst 5).
    time.sleep(6)  # the allowance the earlier tests used comes back
    garbage = json.dumps({"sdp": "v=0\r\nm=audio 9 x\r\n", "type": "offer"}).encode()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: proxy.call("POST", "/api/offer", garbage), range(30)))
    statuses = [status for status, _, _ in answers]
    # The burst reaches the agents (a bad offer: their 400); the rest never leave nginx.
    assert 5 <= statuses.count(400) <= 8 and statuses.count(429) >= 22, statuses
    for status, headers, body in answers:
        if status == 429:
            error = json.loads(body)["error"]
            assert error["type"] == "rate_limit_error" and headers["Retry-After"] == "2"
    # Trickled candidates are not counted: a session's burst of PATCHes all reach an agent.
    patch = json.dumps({"pc_id": "nobody", "candidates": []}).encode()
    assert {proxy.call("PATCH", "/api/offer", patch)[0] for _ in range(12)} == {404}
