"""GetRepositoryEndpoint and GetAuthorizationToken through boto3."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from support import ACCOUNT_ID, QUOTA_DOMAIN, QUOTA_REPOSITORY, expect_error, unique

FORMATS = ["cargo", "generic", "maven", "npm", "nuget", "pypi", "ruby", "swift"]
TWELVE_HOURS = 12 * 3600


@pytest.mark.parametrize("fmt", FORMATS)
def test_repository_endpoint_for_each_format(client, server, domain, fmt):
    client.create_repository(domain=domain, repository="repo")
    endpoint = client.get_repository_endpoint(domain=domain, repository="repo", format=fmt)["repositoryEndpoint"]
    assert endpoint == f"{server.url}/{fmt}/d/{domain}-{ACCOUNT_ID}/repo/"


@pytest.mark.parametrize("endpoint_type", ["ipv4", "dualstack"])
def test_endpoint_type_does_not_change_the_url(client, server, domain, endpoint_type):
    client.create_repository(domain=domain, repository="repo")
    endpoint = client.get_repository_endpoint(domain=domain, repository="repo", format="npm",
                                              endpointType=endpoint_type)["repositoryEndpoint"]
    assert endpoint == f"{server.url}/npm/d/{domain}-{ACCOUNT_ID}/repo/"


def test_repository_endpoint_uses_the_public_url(quota_client, quota_server):
    endpoint = quota_client.get_repository_endpoint(domain=QUOTA_DOMAIN, repository=QUOTA_REPOSITORY,
                                                    format="pypi")["repositoryEndpoint"]
    assert endpoint == f"http://reliquary.example:9999/pypi/d/{QUOTA_DOMAIN}-{ACCOUNT_ID}/{QUOTA_REPOSITORY}/"


def test_repository_endpoint_with_unknown_format_is_a_validation_error(client, domain):
    client.create_repository(domain=domain, repository="repo")
    expect_error(client, "ValidationException", 400, client.get_repository_endpoint,
                 domain=domain, repository="repo", format="docker")


def test_repository_endpoint_with_unknown_endpoint_type_is_a_validation_error(client, domain):
    client.create_repository(domain=domain, repository="repo")
    expect_error(client, "ValidationException", 400, client.get_repository_endpoint,
                 domain=domain, repository="repo", format="npm", endpointType="ipv6")


def test_repository_endpoint_of_missing_repository_is_not_found(client, domain):
    response = expect_error(client, "ResourceNotFoundException", 404, client.get_repository_endpoint,
                            domain=domain, repository="ghost", format="npm")
    assert response["resourceType"] == "repository"


def test_repository_endpoint_in_missing_domain_is_not_found(client):
    response = expect_error(client, "ResourceNotFoundException", 404, client.get_repository_endpoint,
                            domain=unique("missing"), repository="ghost", format="npm")
    assert response["resourceType"] == "domain"


# --------------------------------------------------------------------------- authorization token


def assert_token(result: dict, seconds: int) -> None:
    token = result["authorizationToken"]
    assert isinstance(token, str) and token
    expected = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    assert abs(result["expiration"] - expected) < timedelta(minutes=1), (result["expiration"], expected)


def test_authorization_token_defaults_to_twelve_hours(client, domain):
    assert_token(client.get_authorization_token(domain=domain), TWELVE_HOURS)


@pytest.mark.parametrize("seconds", [900, 3600, 43200])
def test_authorization_token_with_duration(client, domain, seconds):
    assert_token(client.get_authorization_token(domain=domain, durationSeconds=seconds), seconds)


def test_authorization_token_duration_zero_means_twelve_hours(client, domain):
    assert_token(client.get_authorization_token(domain=domain, durationSeconds=0), TWELVE_HOURS)


def test_authorization_token_with_own_account_as_owner(client, domain):
    assert_token(client.get_authorization_token(domain=domain, domainOwner=ACCOUNT_ID), TWELVE_HOURS)


@pytest.mark.parametrize("seconds", [1, 899, 43201])
def test_authorization_token_duration_out_of_range_is_a_validation_error(client, domain, seconds):
    expect_error(client, "ValidationException", 400, client.get_authorization_token,
                 domain=domain, durationSeconds=seconds)


def test_authorization_token_for_missing_domain_is_not_found(client):
    response = expect_error(client, "ResourceNotFoundException", 404, client.get_authorization_token,
                            domain=unique("missing"))
    assert response["resourceType"] == "domain"

