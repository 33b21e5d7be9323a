"""Rules every list operation shares: default page size, maxResults bounds, invalid tokens.
(maxResults 0 is refused by botocore itself, before anything is sent, so it is not tested here.)"""

from __future__ import annotations

import pytest

from support import expect_error, unique

DEFAULT_PAGE_SIZE = 50


def list_domains(client, domain, **kw):
    return client.list_domains(**kw), "domains"


def list_repositories(client, domain, **kw):
    return client.list_repositories(**kw), "repositories"


def list_repositories_in_domain(client, domain, **kw):
    return client.list_repositories_in_domain(domain=domain, **kw), "repositories"


LIST_OPERATIONS = [list_domains, list_repositories, list_repositories_in_domain]
LIST_IDS = ["ListDomains", "ListRepositories", "ListRepositoriesInDomain"]


@pytest.fixture(scope="session")
def fifty_one_of_each(client):
    """At least 51 domains exist, and one of them holds 51 repositories; yields that domain."""
    domain = unique()
    client.create_domain(domain=domain)
    existing = sum(len(p["domains"]) for p in client.get_paginator("list_domains").paginate())
    for _ in range(max(0, 51 - existing)):
        client.create_domain(domain=unique())
    for i in range(51):
        client.create_repository(domain=domain, repository=f"r{i:02d}")
    return domain


@pytest.mark.parametrize("operation", LIST_OPERATIONS, ids=LIST_IDS)
def test_default_page_size_is_50(client, fifty_one_of_each, operation):
    page, key = operation(client, fifty_one_of_each)
    assert len(page[key]) == DEFAULT_PAGE_SIZE
    assert page.get("nextToken")
    following, _ = operation(client, fifty_one_of_each, nextToken=page["nextToken"])
    first_names = {(i.get("domainName"), i["name"]) for i in page[key]}
    assert not first_names & {(i.get("domainName"), i["name"]) for i in following[key]}


@pytest.mark.parametrize("operation", LIST_OPERATIONS, ids=LIST_IDS)
def test_last_page_has_no_next_token(client, domain, operation):
    client.create_repository(domain=domain, repository="only")
    page, key = operation(client, domain, maxResults=1000)
    while page.get("nextToken"):
        page, key = operation(client, domain, maxResults=1000, nextToken=page["nextToken"])
    assert "nextToken" not in page


@pytest.mark.parametrize("operation", LIST_OPERATIONS, ids=LIST_IDS)
@pytest.mark.parametrize("token", ["not-a-token", "eyJub3QiOiJvdXJzIn0="], ids=["garbage", "foreign-base64"])
def test_invalid_next_token_is_a_validation_error(client, domain, operation, token):
    expect_error(client, "ValidationException", 400, operation, client=client, domain=domain, nextToken=token)


@pytest.mark.parametrize("operation", LIST_OPERATIONS, ids=LIST_IDS)
def test_max_results_above_1000_is_a_validation_error(client, domain, operation):
    response = expect_error(client, "ValidationException", 400, operation, client=client, domain=domain,
                            maxResults=5000)
    assert response["reason"] == "FIELD_VALIDATION_FAILED"


@pytest.mark.parametrize("operation", LIST_OPERATIONS, ids=LIST_IDS)
def test_max_results_1000_is_accepted(client, domain, operation):
    page, key = operation(client, domain, maxResults=1000)
    assert isinstance(page[key], list)
