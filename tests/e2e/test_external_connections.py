"""AssociateExternalConnection / DisassociateExternalConnection through boto3."""

from __future__ import annotations

import pytest

from support import expect_error, upstream_names

CONNECTIONS = {
    "public:npmjs": "npm",
    "public:pypi": "pypi",
    "public:maven-central": "maven",
    "public:maven-googleandroid": "maven",
    "public:maven-gradleplugins": "maven",
    "public:maven-commonsware": "maven",
    "public:maven-clojars": "maven",
    "public:nuget-org": "nuget",
    "public:ruby-gems-org": "ruby",
    "public:crates-io": "cargo",
}


@pytest.mark.parametrize("name", list(CONNECTIONS))
def test_associate_each_external_connection(client, domain, name):
    client.create_repository(domain=domain, repository="store")
    expected = [{"externalConnectionName": name, "packageFormat": CONNECTIONS[name], "status": "Available"}]
    associated = client.associate_external_connection(domain=domain, repository="store", externalConnection=name)
    assert associated["repository"]["externalConnections"] == expected
    described = client.describe_repository(domain=domain, repository="store")["repository"]
    assert described["externalConnections"] == expected


def test_unknown_external_connection_is_a_validation_error(client, domain):
    client.create_repository(domain=domain, repository="store")
    expect_error(client, "ValidationException", 400, client.associate_external_connection,
                 domain=domain, repository="store", externalConnection="public:foo")
    assert client.describe_repository(domain=domain, repository="store")["repository"].get(
        "externalConnections", []) == []


def test_second_external_connection_is_a_conflict(client, domain):
    client.create_repository(domain=domain, repository="store")
    client.associate_external_connection(domain=domain, repository="store", externalConnection="public:npmjs")
    expect_error(client, "ConflictException", 409, client.associate_external_connection,
                 domain=domain, repository="store", externalConnection="public:pypi")
    connections = client.describe_repository(domain=domain, repository="store")["repository"]["externalConnections"]
    assert [c["externalConnectionName"] for c in connections] == ["public:npmjs"]


def test_disassociate_removes_the_connection(client, domain):
    client.create_repository(domain=domain, repository="store")
    client.associate_external_connection(domain=domain, repository="store", externalConnection="public:pypi")
    result = client.disassociate_external_connection(domain=domain, repository="store",
                                                     externalConnection="public:pypi")
    assert result["repository"].get("externalConnections", []) == []
    described = client.describe_repository(domain=domain, repository="store")["repository"]
    assert described.get("externalConnections", []) == []
    # and the repository can take a (different) connection again
    client.associate_external_connection(domain=domain, repository="store", externalConnection="public:npmjs")


def test_disassociate_absent_connection_is_not_found(client, domain):
    client.create_repository(domain=domain, repository="store")
    expect_error(client, "ResourceNotFoundException", 404, client.disassociate_external_connection,
                 domain=domain, repository="store", externalConnection="public:npmjs")
    client.associate_external_connection(domain=domain, repository="store", externalConnection="public:npmjs")
    expect_error(client, "ResourceNotFoundException", 404, client.disassociate_external_connection,
                 domain=domain, repository="store", externalConnection="public:pypi")


def test_associate_on_missing_repository_is_not_found(client, domain):
    response = expect_error(client, "ResourceNotFoundException", 404, client.associate_external_connection,
                            domain=domain, repository="ghost", externalConnection="public:npmjs")
    assert response["resourceType"] == "repository"


def test_repository_may_have_upstreams_and_an_external_connection(client, domain):
    client.create_repository(domain=domain, repository="base")
    client.create_repository(domain=domain, repository="both", upstreams=[{"repositoryName": "base"}])
    client.associate_external_connection(domain=domain, repository="both", externalConnection="public:npmjs")

    client.create_repository(domain=domain, repository="conn-first")
    client.associate_external_connection(domain=domain, repository="conn-first", externalConnection="public:pypi")
    client.update_repository(domain=domain, repository="conn-first", upstreams=[{"repositoryName": "base"}])

    for name, connection in (("both", "public:npmjs"), ("conn-first", "public:pypi")):
        repo = client.describe_repository(domain=domain, repository=name)["repository"]
        assert upstream_names(repo) == ["base"]
        assert [c["externalConnectionName"] for c in repo["externalConnections"]] == [connection]
