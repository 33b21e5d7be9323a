"""SigV4 refusals, with hand-signed requests (botocore's SigV4Auth + requests) and boto3 clients
holding wrong credentials. Every refusal is a 403 with a JSON body carrying `message`, the error
type in x-amzn-ErrorType and a request id."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from unittest import mock

import botocore.auth
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from support import ACCESS_KEY_ID, CLIENT_REGION, SECRET_ACCESS_KEY, expect_error, make_client, unique

LIST_DOMAINS_BODY = b'{"maxResults": 5}'


def sign(method, url, body=b"", access_key=ACCESS_KEY_ID, secret_key=SECRET_ACCESS_KEY,
         service="codeartifact", region=CLIENT_REGION, at: datetime | None = None) -> AWSRequest:
    request = AWSRequest(method=method, url=url, data=body,
                         headers={"Content-Type": "application/json"} if body else {})
    signer = SigV4Auth(Credentials(access_key, secret_key), service, region)
    if at is None:
        signer.add_auth(request)
    else:
        naive_utc = at.astimezone(timezone.utc).replace(tzinfo=None)
        with mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: naive_utc):
            signer.add_auth(request)
    return request


def send(request: AWSRequest, body: bytes | None = None) -> requests.Response:
    prepared = request.prepare()
    return requests.request(prepared.method, prepared.url, headers=dict(prepared.headers),
                            data=prepared.body if body is None else body, timeout=30)


def assert_refused(response: requests.Response, code: str, status: int = 403) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers.get("x-amzn-ErrorType", "").split(":")[0] == code, response.headers
    assert response.headers.get("x-amzn-RequestId")
    body = json.loads(response.content)
    assert isinstance(body.get("message"), str) and body["message"], body
    return body


def test_health_needs_no_authentication(server):
    response = requests.get(f"{server.url}/health", timeout=10)
    assert response.status_code == 200


def test_hand_signed_request_is_accepted(server):
    """The baseline for every refusal below: the same machinery, correctly used, succeeds."""
    response = send(sign("POST", f"{server.url}/v1/domains", LIST_DOMAINS_BODY))
    assert response.status_code == 200, response.text
    assert "domains" in response.json()
    assert response.headers.get("x-amzn-RequestId")


def test_hand_signed_get_with_query_string_is_accepted(client, server, domain):
    response = send(sign("GET", f"{server.url}/v1/domain?domain={domain}"))
    assert response.status_code == 200, response.text
    assert response.json()["domain"]["name"] == domain


def test_request_without_authorization_is_refused(server):
    response = requests.post(f"{server.url}/v1/domains", data=LIST_DOMAINS_BODY,
                             headers={"Content-Type": "application/json"}, timeout=30)
    assert_refused(response, "MissingAuthenticationTokenException")


def test_unknown_access_key_is_refused(server):
    assert_refused(send(sign("POST", f"{server.url}/v1/domains", LIST_DOMAINS_BODY,
                             access_key="AKIDUNKNOWN000000000")), "UnrecognizedClientException")


def test_wrong_secret_is_refused(server):
    assert_refused(send(sign("POST", f"{server.url}/v1/domains", LIST_DOMAINS_BODY,
                             secret_key="not-the-secret")), "InvalidSignatureException")


def test_signature_from_twenty_minutes_ago_is_expired(server):
    twenty_minutes_ago = datetime.now(timezone.utc) - timedelta(minutes=20)
    request = sign("POST", f"{server.url}/v1/domains", LIST_DOMAINS_BODY, at=twenty_minutes_ago)
    body = assert_refused(send(request), "InvalidSignatureException")
    assert "Signature expired" in body["message"]


def test_body_altered_after_signing_is_refused(server):
    request = sign("POST", f"{server.url}/v1/domains", LIST_DOMAINS_BODY)
    tampered = LIST_DOMAINS_BODY.replace(b"5", b"6")
    assert len(tampered) == len(LIST_DOMAINS_BODY)
    assert_refused(send(request, body=tampered), "InvalidSignatureException")


def test_query_altered_after_signing_is_refused(server, domain):
    request = sign("GET", f"{server.url}/v1/domain?domain={domain}")
    request.url = f"{server.url}/v1/domain?domain={domain}x"
    assert_refused(send(request), "InvalidSignatureException")


def test_wrong_service_in_scope_is_refused(server):
    assert_refused(send(sign("POST", f"{server.url}/v1/domains", LIST_DOMAINS_BODY, service="s3")),
                   "InvalidSignatureException")


def test_any_region_in_scope_is_accepted(server):
    response = send(sign("POST", f"{server.url}/v1/domains", LIST_DOMAINS_BODY, region="eu-central-1"))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("access_key,secret_key,code", [
    ("AKIDUNKNOWN000000000", SECRET_ACCESS_KEY, "UnrecognizedClientException"),
    (ACCESS_KEY_ID, "not-the-secret", "InvalidSignatureException"),
], ids=["unknown-key", "wrong-secret"])
def test_boto3_with_wrong_credentials_is_refused(server, access_key, secret_key, code):
    bad = make_client(server.url, access_key=access_key, secret_key=secret_key)
    response = expect_error(bad, code, 403, bad.list_domains)
    assert response["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid")
    expect_error(bad, code, 403, bad.create_domain, domain=unique())


def test_refused_request_changes_nothing(server, client):
    name = unique()
    bad = make_client(server.url, secret_key="not-the-secret")
    expect_error(bad, "InvalidSignatureException", 403, bad.create_domain, domain=name)
    expect_error(client, "ResourceNotFoundException", 404, client.describe_domain, domain=name)


def test_an_unsigned_request_is_refused_before_its_body_is_read(server):
    """Authentication comes first: an unsigned 2 MiB body is MissingAuthenticationTokenException,
    not the ValidationException of a body over the 1 MiB limit (compatibility 72)."""
    big = b'{"maxResults": 5, "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = requests.post(f"{server.url}/v1/domains", data=big, timeout=30)
    assert_refused(response, "MissingAuthenticationTokenException")
    wrong_key = sign("POST", f"{server.url}/v1/domains", LIST_DOMAINS_BODY, access_key="AKIDNOSUCHKEY000")
    assert_refused(send(wrong_key, big), "UnrecognizedClientException")


class UnsignedPayloadAuth(SigV4Auth):
    """Signs as the Rust SDK signs a streamed PublishPackageVersion body: the payload hash is
    `UNSIGNED-PAYLOAD`, while x-amz-content-sha256 (the asset's hash) is sent and signed as a header."""

    def canonical_request(self, request):
        # the last line of a canonical request is the payload hash
        return super().canonical_request(request).rsplit("\n", 1)[0] + "\nUNSIGNED-PAYLOAD"


def publish_unsigned_payload(server, domain, body: bytes, declared: str) -> requests.Response:
    from urllib.parse import quote, urlencode
    params = {"domain": domain, "repository": "repo", "format": "generic", "namespace": "ns",
              "package": "streamed", "version": "1.0.0", "asset": "blob.bin"}
    url = f"{server.url}/v1/package/version/publish?{urlencode(params, quote_via=quote)}"
    request = AWSRequest(method="POST", url=url, data=body, headers={"x-amz-content-sha256": declared})
    UnsignedPayloadAuth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "codeartifact", CLIENT_REGION).add_auth(request)
    return send(request)


def test_a_publish_signed_as_unsigned_payload_is_accepted_and_checked(client, server, domain):
    """The Rust SDK streams PublishPackageVersion bodies signed as UNSIGNED-PAYLOAD: accepted, the body
    still checked against x-amz-content-sha256, and a mismatch is the same ValidationException
    boto3 gets (compatibility 42, 73), not InvalidSignatureException."""
    import hashlib
    client.create_repository(domain=domain, repository="repo")
    body = b"streamed by an SDK" * 1000
    wrong = publish_unsigned_payload(server, domain, body, hashlib.sha256(b"other").hexdigest())
    assert_refused(wrong, "ValidationException", 400)
    send_result = publish_unsigned_payload(server, domain, body, hashlib.sha256(body).hexdigest())
    assert send_result.status_code == 200, send_result.text
    assets = client.list_package_version_assets(domain=domain, repository="repo", format="generic", namespace="ns",
                                                package="streamed", packageVersion="1.0.0")["assets"]
    assert [(a["name"], a["size"]) for a in assets] == [("blob.bin", len(body))]
    # the signature still covers the header: another value is refused
    request = AWSRequest(method="POST", url=f"{server.url}/v1/domains", data=LIST_DOMAINS_BODY,
                         headers={"x-amz-content-sha256": "0" * 64})
    UnsignedPayloadAuth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "codeartifact", CLIENT_REGION).add_auth(request)
    assert send(request).status_code in (400, 403)
