"""The FHIR client against a misbehaving HTTP server of our own on 127.0.0.1.

Every fault must end within the deadline (plus a small margin) with the right exception type.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.errors import InvalidInput
from app.fhir.client import FhirClient, client_for
from app.fhir.errors import (
    FhirAuthError,
    FhirError,
    FhirHTTPError,
    FhirInvalidResponse,
    FhirNotFound,
    FhirTimeout,
    FhirUnavailable,
)
from app.fhir.http import post_form, retry_after_seconds, session_for
from app.fhir.record import from_fetched
from tests.faultserver import FaultServer

MARGIN = 0.6  # seconds allowed past the deadline (thread scheduling on a loaded 2-core machine)


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def other_server() -> Iterator[FaultServer]:
    with FaultServer() as srv:
        yield srv


def timed(fn: Callable[..., Any], *args: Any, **kw: Any) -> tuple[Any, FhirError | None, float]:
    started = time.monotonic()
    try:
        return fn(*args, **kw), None, time.monotonic() - started
    except FhirError as err:
        return None, err, time.monotonic() - started


def test_hang_ends_at_the_deadline_with_fhir_timeout(server: FaultServer) -> None:
    client = FhirClient(server.base("hang"), timeout=5.0, deadline=1.0)
    _, err, elapsed = timed(client.read, "Patient", "p1")
    assert isinstance(err, FhirTimeout)
    assert "deadline" in err.message
    assert 0.9 <= elapsed < 1.0 + MARGIN


def test_hang_ends_at_the_per_call_timeout_and_is_not_retried(server: FaultServer) -> None:
    before = server.hits_under("/hang/Patient/t2")
    client = FhirClient(server.base("hang"), timeout=0.5, deadline=5.0, retries=2)
    _, err, elapsed = timed(client.read, "Patient", "t2")
    assert isinstance(err, FhirTimeout)
    assert "timeout of 0.5 s" in err.message
    assert elapsed < 0.5 + MARGIN
    assert server.hits_under("/hang/Patient/t2") - before == 1


def test_headers_then_no_body_ends_at_the_deadline(server: FaultServer) -> None:
    client = FhirClient(server.base("hangbody"), timeout=5.0, deadline=1.0)
    _, err, elapsed = timed(client.read, "Patient", "p1")
    assert isinstance(err, FhirTimeout)
    assert elapsed < 1.0 + MARGIN


def test_body_hang_after_late_headers_still_ends_at_the_deadline(server: FaultServer) -> None:
    # Headers come at 0.6 s; the socket timeout chosen at request time (1.0 s) would end the body read at
    # 1.6 s. The client shrinks it to what is left of the deadline before every read.
    client = FhirClient(server.base("latehang"), timeout=5.0, deadline=1.0)
    _, err, elapsed = timed(client.read, "Patient", "p1")
    assert isinstance(err, FhirTimeout)
    assert 0.95 <= elapsed < 1.45


def test_slow_trickling_body_ends_at_the_deadline(server: FaultServer) -> None:
    # Each byte arrives well within the socket timeout; only the overall clock can stop this.
    client = FhirClient(server.base("slow"), timeout=5.0, deadline=1.2)
    _, err, elapsed = timed(client.read, "Patient", "p1")
    assert isinstance(err, FhirTimeout)
    assert 1.1 <= elapsed < 1.2 + MARGIN


def test_slow_body_is_cut_by_the_per_call_timeout_too(server: FaultServer) -> None:
    client = FhirClient(server.base("slow"), timeout=0.8, deadline=5.0)
    _, err, elapsed = timed(client.read, "Patient", "p1")
    assert isinstance(err, FhirTimeout)
    assert elapsed < 0.8 + MARGIN


def test_500_maps_to_http_error_with_the_outcome_and_is_not_retried(server: FaultServer) -> None:
    before = server.hits_under("/error500/")
    client = FhirClient(server.base("error500"), deadline=3.0)
    _, err, elapsed = timed(client.read, "Patient", "p1")
    assert isinstance(err, FhirHTTPError)
    assert err.status == 500
    assert err.outcome is not None and err.outcome["resourceType"] == "OperationOutcome"
    assert "database on fire" in err.message
    assert server.hits_under("/error500/") - before == 1
    assert elapsed < 3.0


def test_503_is_retried_then_fails_with_http_error(server: FaultServer) -> None:
    before = server.hits_under("/unavailable/")
    client = FhirClient(server.base("unavailable"), deadline=4.0, retries=2)
    _, err, elapsed = timed(client.search, "Condition", {"patient": "p1"})
    assert isinstance(err, FhirHTTPError)
    assert err.status == 503
    assert server.hits_under("/unavailable/") - before == 3  # 1 + 2 retries
    assert 0.7 <= elapsed < 4.0  # backoff 0.25 s + 0.5 s


def test_429_with_retry_after_is_honoured_then_succeeds(server: FaultServer) -> None:
    client = FhirClient(server.base("throttle"), deadline=4.0)
    patient, err, elapsed = timed(client.read, "Patient", "t429")
    assert err is None
    assert patient == {"resourceType": "Patient", "id": "t429"}
    assert server.hits["/throttle/Patient/t429"] == 2
    assert 1.0 <= elapsed < 1.0 + MARGIN


def test_429_whose_retry_after_passes_the_deadline_fails_at_once(server: FaultServer) -> None:
    client = FhirClient(server.base("throttlelong"), deadline=2.0)
    _, err, elapsed = timed(client.read, "Patient", "p1")
    assert isinstance(err, FhirHTTPError)
    assert err.status == 429
    assert "deadline" in err.message
    assert elapsed < 0.5


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_seconds("3") == 3.0
    in_two = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 2))
    got = retry_after_seconds(in_two)
    assert got is not None and 0.5 < got <= 2.5
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_next_link_looping_to_itself_is_detected(server: FaultServer) -> None:
    client = FhirClient(server.base("loop"), deadline=3.0)
    _, err, elapsed = timed(client.search, "Condition", {"patient": "p1"})
    assert isinstance(err, FhirInvalidResponse)
    assert "loop" in err.message
    assert elapsed < 1.0


def test_endless_paging_stops_at_the_page_cap(server: FaultServer) -> None:
    before = server.hits_under("/endless/")
    client = FhirClient(server.base("endless"), deadline=5.0, page_cap=5)
    _, err, _ = timed(client.search, "Condition", {"patient": "p1"})
    assert isinstance(err, FhirInvalidResponse)
    assert "more than 5 pages" in err.message
    assert server.hits_under("/endless/") - before == 5


def test_paging_collects_every_page(server: FaultServer) -> None:
    client = FhirClient(server.base("pages"), deadline=3.0)
    got = client.search("Condition", {"patient": "p1"})
    assert [r["id"] for r in got] == ["p0-0", "p0-1", "p1-0", "p1-1", "p2-0", "p2-1"]


def test_invalid_json_maps_to_invalid_response(server: FaultServer) -> None:
    _, err, _ = timed(FhirClient(server.base("badjson")).read, "Patient", "p1")
    assert isinstance(err, FhirInvalidResponse)
    assert "not JSON" in err.message


def test_json_that_is_not_a_fhir_resource_maps_to_invalid_response(server: FaultServer) -> None:
    _, err, _ = timed(FhirClient(server.base("notfhir")).read, "Patient", "p1")
    assert isinstance(err, FhirInvalidResponse)
    assert "not a FHIR resource" in err.message


def test_30_mb_body_without_length_is_aborted_while_streaming(server: FaultServer) -> None:
    client = FhirClient(server.base("huge"), deadline=5.0, max_response_bytes=20_000_000)
    _, err, elapsed = timed(client.read, "Patient", "p1")
    assert isinstance(err, FhirInvalidResponse)
    assert "too large" in err.message
    assert elapsed < 5.0


def test_30_mb_declared_body_is_refused_before_reading(server: FaultServer) -> None:
    client = FhirClient(server.base("hugedeclared"), deadline=5.0, max_response_bytes=20_000_000)
    _, err, elapsed = timed(client.read, "Patient", "p1")
    assert isinstance(err, FhirInvalidResponse)
    assert "31457280 bytes" in err.message
    assert elapsed < 1.0


def test_redirect_to_another_host_is_refused_and_never_contacted(
    server: FaultServer, other_server: FaultServer
) -> None:
    server.redirect_target = other_server.origin
    client = FhirClient(server.base("redirect"), bearer_token="secret-token-123", deadline=3.0)
    _, err, _ = timed(client.read, "Patient", "p1")
    assert isinstance(err, FhirHTTPError)
    assert err.status == 302
    assert "another host" in err.message
    assert other_server.records == []


def test_redirect_within_the_same_origin_is_followed(server: FaultServer) -> None:
    client = FhirClient(server.base("sameredirect"), deadline=3.0)
    assert client.read("Patient", "p9") == {"resourceType": "Patient", "id": "p9"}


def test_next_link_to_another_host_is_refused(server: FaultServer, other_server: FaultServer) -> None:
    # A searchset from "ok" paged into another origin: the client must not follow it with our token.
    client = FhirClient(server.base("ok"), deadline=3.0)
    bundle_from_elsewhere = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "next", "url": f"{other_server.origin}/ok/Condition?page=2"}],
    }
    client._get_json = lambda url, params, dl: bundle_from_elsewhere  # type: ignore[method-assign]
    _, err, _ = timed(client.search, "Condition", {"patient": "p1"})
    assert isinstance(err, FhirInvalidResponse)
    assert "another host" in err.message
    assert other_server.records == []


def test_operation_outcome_404_maps_to_not_found(server: FaultServer) -> None:
    _, err, _ = timed(FhirClient(server.base("oo404")).read, "Patient", "nobody")
    assert isinstance(err, FhirNotFound)
    assert err.status == 404
    assert "Patient/nobody is not known" in err.message


def test_401_maps_to_auth_error(server: FaultServer) -> None:
    _, err, _ = timed(FhirClient(server.base("oo401"), bearer_token="x").read, "Patient", "p1")
    assert isinstance(err, FhirAuthError)
    assert err.status == 401


def test_connection_refused_maps_to_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        _, err, elapsed = timed(
            FhirClient(f"http://127.0.0.1:{port}/fhir", deadline=2.0).read, "Patient", "p1"
        )
    assert isinstance(err, FhirUnavailable)
    assert elapsed < 2.0


def test_headers_sent_and_bearer_token_never_logged(
    server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "tok-DO-NOT-LOG-42"
    client = FhirClient(server.base("ok"), bearer_token=token)
    client.read("Patient", "hdr1")
    sent = [r for r in server.records if r.path == "/ok/Patient/hdr1"][-1]
    assert sent.headers["Accept"] == "application/fhir+json"
    assert sent.headers["Authorization"] == f"Bearer {token}"
    assert caplog.records, "the client should log its calls at debug level"
    assert token not in caplog.text
    assert token not in repr(client)


def test_invalid_ids_are_rejected_before_any_request() -> None:
    client = FhirClient("http://127.0.0.1:9/fhir")
    with pytest.raises(InvalidInput):
        client.read("Patient", "../metadata")
    with pytest.raises(InvalidInput):
        client.fetch_patient_record("a b")
    with pytest.raises(InvalidInput):
        FhirClient("file:///etc/passwd")


def test_fetch_patient_record_isolates_a_failing_type_and_reads_each_medication_once(
    server: FaultServer,
) -> None:
    client = FhirClient(server.base("record"), deadline=3.0)
    got = client.fetch_patient_record("p1")
    assert got["Patient"] == [{"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01"}]
    assert [r["id"] for r in got["Condition"]] == ["c1"]  # type: ignore[union-attr]
    assert len(got["MedicationStatement"]) == 3  # type: ignore[arg-type]
    device = got["Device"]
    assert isinstance(device, FhirHTTPError) and device.status == 500
    assert sorted(m["id"] for m in got["Medication"]) == ["m1", "m2"]  # type: ignore[union-attr]
    assert server.hits["/record/Medication/m1"] == 1  # referenced three times, read once
    assert server.hits["/record/Medication/m2"] == 1
    assert not any("/Medication/cm" in r.path for r in server.records)  # contained: never fetched
    fetched = from_fetched(got)
    assert fetched.unavailable == {"Device"}
    assert len(fetched.resources) == 1 + 1 + 3 + 2 + 0 + 2
    assert fetched.issues and fetched.issues[0].startswith("Device could not be fetched: HTTP 500")


def test_fetch_patient_record_ends_within_the_deadline_when_one_type_hangs(server: FaultServer) -> None:
    client = FhirClient(server.base("recordhang"), timeout=5.0, deadline=1.0)
    got, err, elapsed = timed(client.fetch_patient_record, "p1")
    assert err is None
    assert elapsed < 1.0 + MARGIN
    assert isinstance(got["Procedure"], FhirTimeout)
    assert [r["id"] for r in got["Condition"]] == ["c1"]


def test_client_for_reuses_one_session_per_base(server: FaultServer) -> None:
    a = client_for(server.base("ok"), bearer_token="a")
    b = client_for(server.base("ok") + "/", bearer_token="b")
    assert a._session is b._session is session_for(server.base("ok"))
    assert client_for(server.base("pages"))._session is not a._session


def test_shared_session_keeps_no_cookies_between_callers(server: FaultServer) -> None:
    base = server.base("cookie")
    client_for(base, bearer_token="user-a").read("Patient", "ck1")
    client_for(base, bearer_token="user-b").read("Patient", "ck2")
    second = [r for r in server.records if r.path == "/cookie/Patient/ck2"][-1]
    assert "Cookie" not in second.headers
    assert second.headers["Authorization"] == "Bearer user-b"
    assert len(session_for(base).cookies) == 0


def test_token_endpoint_post_is_bounded_by_its_timeout_too(server: FaultServer) -> None:
    started = time.monotonic()
    with pytest.raises(FhirTimeout):
        post_form(server.base("slow") + "/token", {"grant_type": "client_credentials"}, timeout=0.8)
    assert time.monotonic() - started < 0.8 + MARGIN
    with pytest.raises(FhirInvalidResponse, match="too large"):
        post_form(server.base("huge") + "/token", {"grant_type": "client_credentials"}, timeout=5.0)
