"""The aws CLI (v1, from the venv) end to end: one walk through a domain's life, plus errors the
CLI surfaces. Each CLI call costs ~0.5 s, so the walk is one test."""

from __future__ import annotations

import pytest

from support import ACCOUNT_ID, AwsCliError, domain_arn, unique


def test_cli_domain_and_repository_walkthrough(aws, server):
    name = unique("cli")

    created = aws("codeartifact", "create-domain", "--domain", name, "--tags", "key=team,value=cli")
    assert created["domain"]["name"] == name
    assert created["domain"]["arn"] == domain_arn(name)
    assert created["domain"]["status"] == "Active"

    described = aws("codeartifact", "describe-domain", "--domain", name)
    assert described["domain"]["owner"] == ACCOUNT_ID
    assert described["domain"]["repositoryCount"] == 0

    # auto-pagination: the CLI follows nextToken itself; page size 2 forces many pages
    listed = aws("codeartifact", "list-domains", "--page-size", "2")
    names = [d["name"] for d in listed["domains"]]
    assert names.count(name) == 1
    assert len(names) == len(set(names))

    aws("codeartifact", "create-repository", "--domain", name, "--repository", "upstream")
    repo = aws("codeartifact", "create-repository", "--domain", name, "--repository", "app",
               "--description", "from the cli", "--upstreams", "repositoryName=upstream")
    assert [u["repositoryName"] for u in repo["repository"]["upstreams"]] == ["upstream"]
    assert repo["repository"]["description"] == "from the cli"

    endpoint = aws("codeartifact", "get-repository-endpoint", "--domain", name, "--repository", "app",
                   "--format", "npm")
    assert endpoint["repositoryEndpoint"] == f"{server.url}/npm/d/{name}-{ACCOUNT_ID}/app/"

    token = aws("codeartifact", "get-authorization-token", "--domain", name, "--duration-seconds", "900")
    assert token["authorizationToken"]
    assert token["expiration"]

    text = aws("codeartifact", "get-authorization-token", "--domain", name,
               "--query", "authorizationToken", output="text")
    assert text and "\n" not in text and text != "None"

    with pytest.raises(AwsCliError) as refused:
        aws("codeartifact", "delete-domain", "--domain", name)
    assert "ConflictException" in refused.value.stderr

    aws("codeartifact", "update-repository", "--domain", name, "--repository", "app", "--upstreams")
    aws("codeartifact", "delete-repository", "--domain", name, "--repository", "app")
    aws("codeartifact", "delete-repository", "--domain", name, "--repository", "upstream")
    deleted = aws("codeartifact", "delete-domain", "--domain", name)
    assert deleted["domain"]["name"] == name

    with pytest.raises(AwsCliError) as missing:
        aws("codeartifact", "describe-domain", "--domain", name)
    assert "ResourceNotFoundException" in missing.value.stderr


def test_cli_reports_server_side_validation(aws):
    too_long = "d" * 60  # the CLI checks only min length: the server must refuse this
    with pytest.raises(AwsCliError) as refused:
        aws("codeartifact", "create-domain", "--domain", too_long)
    assert "ValidationException" in refused.value.stderr
    assert f"Value '{too_long}' at 'domain' failed to satisfy constraint" in refused.value.stderr

    with pytest.raises(AwsCliError) as too_many:
        aws("codeartifact", "list-domains", "--max-results", "5000")
    assert "ValidationException" in too_many.value.stderr
