"""CreateDomain, DescribeDomain, ListDomains, DeleteDomain through boto3."""

from __future__ import annotations

import pytest

from support import (
    ACCOUNT_ID,
    SERVER_REGION,
    assert_insert_safe_listing,
    assert_recent,
    domain_arn,
    expect_error,
    tag_dict,
    tags,
    unique,
    assert_validation_message,
    walk_pages_with_inserts,
)

DEFAULT_KEY = f"arn:aws:kms:{SERVER_REGION}:{ACCOUNT_ID}:alias/aws/codeartifact"


def test_create_domain_returns_its_description(client):
    name = unique()
    domain = client.create_domain(domain=name)["domain"]
    assert domain["name"] == name
    assert domain["owner"] == ACCOUNT_ID
    assert domain["arn"] == f"arn:aws:codeartifact:us-east-1:111122223333:domain/{name}"
    assert domain["status"] == "Active"
    assert_recent(domain["createdTime"])
    assert domain["repositoryCount"] == 0
    assert domain["assetSizeBytes"] == 0


def test_create_domain_without_key_uses_the_default_encryption_key(client):
    domain = client.create_domain(domain=unique())["domain"]
    assert domain["encryptionKey"] == DEFAULT_KEY


def test_create_domain_echoes_encryption_key_and_stores_tags(client):
    name = unique()
    key = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    domain = client.create_domain(domain=name, encryptionKey=key, tags=tags(team="infra", env="test"))["domain"]
    assert domain["encryptionKey"] == key
    assert client.describe_domain(domain=name)["domain"]["encryptionKey"] == key
    listed = client.list_tags_for_resource(resourceArn=domain_arn(name))["tags"]
    assert tag_dict(listed) == {"team": "infra", "env": "test"}


def test_create_domain_twice_is_a_conflict(client, domain):
    expect_error(client, "ConflictException", 409, client.create_domain, domain=domain)


@pytest.mark.parametrize(
    "bad_name",
    ["UpperCase", "d" * 60, "-leading-dash", "trailing-dash-", "under_score"],
    ids=["uppercase", "60-chars", "leading-dash", "trailing-dash", "underscore"],
)
def test_create_domain_with_invalid_name_is_a_validation_error(client, bad_name):
    response = expect_error(client, "ValidationException", 400, client.create_domain, domain=bad_name)
    assert response["reason"] == "FIELD_VALIDATION_FAILED"
    assert_validation_message(response["Error"]["Message"], bad_name, "domain")


def test_describe_domain_counts_repositories(client, domain):
    described = client.describe_domain(domain=domain)["domain"]
    assert described["name"] == domain
    assert described["arn"] == domain_arn(domain)
    assert described["owner"] == ACCOUNT_ID
    assert described["status"] == "Active"
    assert described["repositoryCount"] == 0
    assert described["assetSizeBytes"] == 0
    assert_recent(described["createdTime"])

    client.create_repository(domain=domain, repository="one")
    client.create_repository(domain=domain, repository="two")
    assert client.describe_domain(domain=domain)["domain"]["repositoryCount"] == 2
    client.delete_repository(domain=domain, repository="one")
    assert client.describe_domain(domain=domain)["domain"]["repositoryCount"] == 1


def test_describe_domain_with_own_account_as_owner(client, domain):
    described = client.describe_domain(domain=domain, domainOwner=ACCOUNT_ID)["domain"]
    assert described["name"] == domain


def test_describe_missing_domain_is_not_found(client):
    name = unique("missing")
    response = expect_error(client, "ResourceNotFoundException", 404, client.describe_domain, domain=name)
    assert response["resourceType"] == "domain"
    assert response["resourceId"] == name


def test_list_domains_paginates_over_every_domain_exactly_once(client):
    prefix = unique()
    names = [f"{prefix}-{c}" for c in "bcdef"]
    for name in names:
        client.create_domain(domain=name)
    seen = []
    summaries = {}
    for page in client.get_paginator("list_domains").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["domains"]) <= 2
        for summary in page["domains"]:
            seen.append(summary["name"])
            summaries[summary["name"]] = summary
    assert len(seen) == len(set(seen)), "a domain was listed twice"
    for name in names:
        assert name in seen
        summary = summaries[name]
        assert summary["arn"] == domain_arn(name)
        assert summary["owner"] == ACCOUNT_ID
        assert summary["status"] == "Active"
        assert summary["encryptionKey"] == DEFAULT_KEY
        assert_recent(summary["createdTime"])


def test_list_domains_tokens_stay_correct_while_domains_are_added_between_pages(client):
    prefix = unique()
    originals = [f"{prefix}-{c}" for c in "bcdef"]
    for name in originals:
        client.create_domain(domain=name)
    after, before = f"{prefix}-z", f"{prefix}-a"

    def insert():
        client.create_domain(domain=after)
        client.create_domain(domain=before)

    pages = client.get_paginator("list_domains").paginate(PaginationConfig={"PageSize": 2})
    seen, inserted = walk_pages_with_inserts(pages, "domains", originals, insert, page_size=2)
    assert inserted
    assert_insert_safe_listing(seen, originals, after=after, before=before)


def test_delete_domain_returns_its_description(client, domain):
    deleted = client.delete_domain(domain=domain)["domain"]
    assert deleted["name"] == domain
    assert deleted["arn"] == domain_arn(domain)
    assert deleted["owner"] == ACCOUNT_ID
    expect_error(client, "ResourceNotFoundException", 404, client.describe_domain, domain=domain)
    names = [d["name"] for page in client.get_paginator("list_domains").paginate() for d in page["domains"]]
    assert domain not in names


def test_deleted_domain_name_can_be_reused(client, domain):
    client.create_repository(domain=domain, repository="r1")
    client.delete_repository(domain=domain, repository="r1")
    client.delete_domain(domain=domain)
    fresh = client.create_domain(domain=domain)["domain"]
    assert fresh["repositoryCount"] == 0
    assert client.list_tags_for_resource(resourceArn=domain_arn(domain))["tags"] == []


def test_delete_domain_with_repositories_is_a_conflict(client, domain):
    client.create_repository(domain=domain, repository="still-here")
    expect_error(client, "ConflictException", 409, client.delete_domain, domain=domain)
    assert client.describe_domain(domain=domain)["domain"]["repositoryCount"] == 1
    client.delete_repository(domain=domain, repository="still-here")
    client.delete_domain(domain=domain)


def test_delete_missing_domain_is_not_found(client):
    name = unique("missing")
    response = expect_error(client, "ResourceNotFoundException", 404, client.delete_domain, domain=name)
    assert response["resourceType"] == "domain"


def test_domain_quota_is_a_service_quota_error(quota_client):
    """The quota server allows 2 domains per account; it already holds QUOTA_DOMAIN."""
    existing = [d["name"] for p in quota_client.get_paginator("list_domains").paginate() for d in p["domains"]]
    assert len(existing) <= 2
    for _ in range(2 - len(existing)):
        quota_client.create_domain(domain=unique("q"))
    name = unique("q")
    expect_error(quota_client, "ServiceQuotaExceededException", 402, quota_client.create_domain, domain=name)
    expect_error(quota_client, "ResourceNotFoundException", 404, quota_client.describe_domain, domain=name)
