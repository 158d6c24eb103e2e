"""The HTTP benchmark's pure parts: wrk Lua scripts, the token file, wrk output, the load generator's
requests and timeline, the reference service's request and answer (no timing is asserted here)."""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest

from app.errors import Unauthorized
from app.security.cds_auth import CdsAuthenticator
from bench.loadgen import LoadResult, build_request, distinct_body
from bench.patients import VARY_TOKEN
from bench.peer import EXPECTED_RATING, pama_rating, pama_request, peer_problem
from bench.tokens import LIFETIME, TokenSigner, read_token_file, tokens_needed, write_token_file
from bench.wrk import parse_wrk, run_wrk, wrk_script

AUD = "http://127.0.0.1:8080/cds-services/spine-auc-order-select"

WRK_WITH_TOKENS = """Running 3s test @ http://127.0.0.1:40000/cds-services/spine-auc-order-select
  1 threads and 8 connections
  Latency Distribution
     50%   12.00ms
     75%   15.00ms
     90%   20.00ms
     99%   45.50ms
  1203 requests in 3.01s, 4.00MB read
  Non-2xx or 3xx responses: 4
Requests/sec:    399.67
Transfer/sec:      1.33MB
bench-lua: sent 1211 tokens_short 4
"""


class _Seen:
    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    def claim_jti(self, iss: str, jti: str, exp: int) -> bool:
        if (iss, jti) in self.seen:
            return False
        self.seen.add((iss, jti))
        return True


@pytest.fixture(scope="module")
def signer() -> TokenSigner:
    return TokenSigner()


def test_hello_script_is_a_static_get() -> None:
    script = wrk_script(method="GET")
    assert 'wrk.method = "GET"' in script
    assert "request = function" not in script and "wrk.body" not in script


def test_script_varies_the_body_and_sends_one_token_per_request(tmp_path: Path) -> None:
    script = wrk_script(
        body_file=tmp_path / "b.json", vary_token=VARY_TOKEN, vary_from=41, tokens_file=tmp_path / "t.txt"
    )
    assert f'string.find(body, "{VARY_TOKEN}", 1, true)' in script
    assert "counter = 41" in script and 'string.format("%010d", counter)' in script
    assert f'io.lines("{tmp_path / "t.txt"}")' in script
    assert 'wrk.headers["Authorization"] = "Bearer " .. t' in script
    assert "tokens_short" in script and 't:get("used")' in script


def test_script_headers_are_quoted_lua_strings(tmp_path: Path) -> None:
    script = wrk_script(body_file=tmp_path / "b.json", headers={"Authorization": 'Bearer a"b'})
    assert 'wrk.headers["Authorization"] = "Bearer a\\"b"' in script
    assert "[[" not in script  # `t[[...` would open a Lua long string: the script would not parse


def test_script_refuses_a_token_that_changes_the_length(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        wrk_script(body_file=tmp_path / "b.json", vary_token="SHORT")
    with pytest.raises(ValueError):
        wrk_script(body_file=tmp_path / "b\n.json")


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str | None, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append((self.headers.get("Authorization"), body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_runs_the_generated_script(tmp_path: Path, signer: TokenSigner) -> None:
    body, tokens = tmp_path / "b.json", tmp_path / "t.txt"
    body.write_text(json.dumps({"name": VARY_TOKEN}))
    signed = list(signer.tokens(AUD, 3))
    write_token_file(tokens, signed)
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        script = wrk_script(body_file=body, vary_token=VARY_TOKEN, vary_from=100, tokens_file=tokens)
        result = run_wrk(
            shutil.which("wrk") or "wrk", url, script, tmp_path / "s.lua", seconds=1, connections=1
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    # wrk calls request() once before the run to check it: that first token and counter value go unsent.
    first = _Recorder.seen[:2]
    assert [auth for auth, _ in first] == [f"Bearer {t}" for t in signed[1:]]
    assert [json.loads(b)["name"] for _, b in first] == ["0000000102", "0000000103"]
    assert result["tokens_sent"] >= len(_Recorder.seen) > 3
    assert result["tokens_short"] == result["tokens_sent"] - 3  # past the table: counted, never silent


def test_wrk_output_with_the_token_line_is_parsed() -> None:
    parsed = parse_wrk(WRK_WITH_TOKENS)
    assert parsed["requests_per_second"] == 399.67 and parsed["requests"] == 1203
    assert parsed["non_2xx"] == 4 and parsed["socket_errors"] == 0
    assert parsed["p99_ms"] == 45.5
    assert parsed["tokens_sent"] == 1211 and parsed["tokens_short"] == 4


def test_token_file_round_trip_and_claims(tmp_path: Path, signer: TokenSigner) -> None:
    path = tmp_path / "tokens.txt"
    assert write_token_file(path, signer.tokens(AUD, 5)) == 5
    tokens = read_token_file(path)
    assert len(tokens) == 5
    public = signer.private.public_key()
    claims = [jwt.decode(t, public, algorithms=["ES384"], audience=AUD) for t in tokens]
    assert len({c["jti"] for c in claims}) == 5
    assert all(c["iss"] == signer.iss and c["exp"] - c["iat"] == LIFETIME for c in claims)
    assert {jwt.get_unverified_header(t)["kid"] for t in tokens} == {signer.kid}


def test_tokens_pass_the_service_authenticator_once(tmp_path: Path, signer: TokenSigner) -> None:
    issuers = json.loads(signer.trusted_issuers(signer.write_jwks(tmp_path / "jwks.json")))
    auth = CdsAuthenticator(issuers, _Seen(), allow_unauthenticated=False)
    token = signer.sign(AUD)
    caller = auth.authenticate(f"Bearer {token}", audience_url=AUD)
    assert caller is not None and caller.iss == signer.iss
    with pytest.raises(Unauthorized):
        auth.authenticate(f"Bearer {token}", audience_url=AUD)  # a replayed jti
    with pytest.raises(Unauthorized):
        auth.authenticate(f"Bearer {signer.sign(AUD)}", audience_url=AUD + "-other")


def test_token_budget() -> None:
    assert tokens_needed(400.0, 10) == 12001
    assert tokens_needed(0.0, 10) == 200


def test_load_generator_requests_carry_the_token_and_a_distinct_body() -> None:
    body = json.dumps({"given": VARY_TOKEN}).encode()
    one, two = distinct_body(body, (VARY_TOKEN, 7), 0), distinct_body(body, (VARY_TOKEN, 7), 1)
    assert one == b'{"given": "0000000007"}' and two == b'{"given": "0000000008"}'
    assert distinct_body(body, None, 3) == body
    raw = build_request("127.0.0.1", 8080, "/x", one, token="abc.def.ghi")
    head, _, sent = raw.partition(b"\r\n\r\n")
    assert b"\r\nAuthorization: Bearer abc.def.ghi\r\n" in head
    assert f"Content-Length: {len(one)}".encode() in head and sent == one
    assert b"Authorization" not in build_request("127.0.0.1", 8080, "/x", one)


def test_load_result_counts_completions_per_second_and_non_2xx() -> None:
    result = LoadResult(rate=3, duration=3, scheduled=6)
    result.done_at = [0.1, 0.5, 0.9, 2.2, 2.3, 2.4]
    result.statuses = {200: 5, 401: 1}
    assert result.completions_per_second() == [3, 0, 3]
    assert result.non_2xx == 1
    assert LoadResult(rate=1, duration=1, scheduled=0).completions_per_second() == []


def test_reference_request_and_answer() -> None:
    text = json.dumps(pama_request(VARY_TOKEN))
    assert text.count(VARY_TOKEN) == 2 and text.index(VARY_TOKEN) < text.index("72133")
    assert "279039007" in text
    answer = {
        "cards": [],
        "extension": {
            "systemActions": [
                {
                    "type": "update",
                    "resource": {
                        "extension": [
                            {
                                "url": "http://fhir.org/argonaut/Extension/pama-rating",
                                "valueCodeableConcept": {"coding": [{"code": EXPECTED_RATING}]},
                            }
                        ]
                    },
                }
            ]
        },
    }
    assert pama_rating(answer) == EXPECTED_RATING
    assert pama_rating({"cards": []}) is None and pama_rating("not json") is None


def test_reference_problems_are_named(tmp_path: Path) -> None:
    assert peer_problem(None) == "PEER_DIR not set"
    assert "serve-local.js" in str(peer_problem(str(tmp_path)))
