"""CreateRepository, DescribeRepository, UpdateRepository, DeleteRepository, ListRepositories and
ListRepositoriesInDomain through boto3."""

from __future__ import annotations

from support import (
    ACCOUNT_ID,
    OTHER_ACCOUNT_ID,
    QUOTA_DOMAIN,
    assert_insert_safe_listing,
    assert_recent,
    expect_error,
    repository_arn,
    tag_dict,
    tags,
    unique,
    upstream_names,
    walk_pages_with_inserts,
)


def ups(*names: str) -> list[dict]:
    return [{"repositoryName": n} for n in names]


def make_repos(client, domain, *names, **kwargs):
    for name in names:
        client.create_repository(domain=domain, repository=name, **kwargs)


# --------------------------------------------------------------------------- create / describe


def test_create_repository_returns_its_description(client, domain):
    make_repos(client, domain, "up-1", "up-2", "up-3")
    created = client.create_repository(
        domain=domain, repository="main", description="the main one",
        upstreams=ups("up-2", "up-3", "up-1"), tags=tags(owner="me"),
    )["repository"]
    assert created["name"] == "main"
    assert created["description"] == "the main one"
    assert upstream_names(created) == ["up-2", "up-3", "up-1"]
    assert created["arn"] == repository_arn(domain, "main")
    assert tag_dict(client.list_tags_for_resource(resourceArn=created["arn"])["tags"]) == {"owner": "me"}


def test_describe_repository(client, domain):
    make_repos(client, domain, "base")
    client.create_repository(domain=domain, repository="app", upstreams=ups("base"))
    repo = client.describe_repository(domain=domain, repository="app")["repository"]
    assert repo["name"] == "app"
    assert repo["arn"] == f"arn:aws:codeartifact:us-east-1:111122223333:repository/{domain}/app"
    assert repo["domainName"] == domain
    assert repo["domainOwner"] == ACCOUNT_ID
    assert repo["administratorAccount"] == ACCOUNT_ID
    assert upstream_names(repo) == ["base"]
    assert repo.get("externalConnections", []) == []
    assert_recent(repo["createdTime"])


def test_create_repository_twice_is_a_conflict(client, domain):
    make_repos(client, domain, "dup")
    expect_error(client, "ConflictException", 409, client.create_repository, domain=domain, repository="dup")


def test_create_repository_in_missing_domain_is_not_found(client):
    missing = unique("missing")
    response = expect_error(client, "ResourceNotFoundException", 404, client.create_repository,
                            domain=missing, repository="repo")
    assert response["resourceType"] == "domain"


def test_upstream_from_another_domain_is_not_found(client, domain):
    other = unique()
    client.create_domain(domain=other)
    client.create_repository(domain=other, repository="elsewhere")
    response = expect_error(client, "ResourceNotFoundException", 404, client.create_repository,
                            domain=domain, repository="repo", upstreams=ups("elsewhere"))
    assert response["resourceType"] == "repository"
    expect_error(client, "ResourceNotFoundException", 404, client.describe_repository, domain=domain, repository="repo")


def test_ten_upstreams_are_allowed(client, domain):
    names = [f"u{i}" for i in range(10)]
    make_repos(client, domain, *names)
    created = client.create_repository(domain=domain, repository="ten", upstreams=ups(*names))["repository"]
    assert upstream_names(created) == names


def test_more_than_ten_upstreams_is_a_service_quota_error(client, domain):
    names = [f"u{i}" for i in range(11)]
    make_repos(client, domain, *names)
    expect_error(client, "ServiceQuotaExceededException", 402, client.create_repository,
                 domain=domain, repository="eleven", upstreams=ups(*names))
    client.create_repository(domain=domain, repository="ok", upstreams=ups(*names[:10]))
    expect_error(client, "ServiceQuotaExceededException", 402, client.update_repository,
                 domain=domain, repository="ok", upstreams=ups(*names))
    assert upstream_names(client.describe_repository(domain=domain, repository="ok")["repository"]) == names[:10]


def test_duplicate_upstream_is_a_validation_error(client, domain):
    make_repos(client, domain, "ra")
    expect_error(client, "ValidationException", 400, client.create_repository,
                 domain=domain, repository="rb", upstreams=ups("ra", "ra"))


def test_invalid_repository_name_is_a_validation_error(client, domain):
    response = expect_error(client, "ValidationException", 400, client.create_repository,
                            domain=domain, repository="bad name!")
    assert response["reason"] == "FIELD_VALIDATION_FAILED"
    assert response["Error"]["Message"].startswith(
        "1 validation error detected: Value 'bad name!' at 'repository' failed to satisfy constraint: ")


def test_repository_quota_is_a_service_quota_error(quota_client):
    """The quota server allows 3 repositories per domain; QUOTA_DOMAIN starts with one."""
    domain = QUOTA_DOMAIN
    existing = quota_client.list_repositories_in_domain(domain=domain)["repositories"]
    for _ in range(3 - len(existing)):
        quota_client.create_repository(domain=domain, repository=unique("r"))
    expect_error(quota_client, "ServiceQuotaExceededException", 402, quota_client.create_repository,
                 domain=domain, repository=unique("r"))
    assert len(quota_client.list_repositories_in_domain(domain=domain)["repositories"]) == 3


def test_describe_missing_repository_is_not_found(client, domain):
    response = expect_error(client, "ResourceNotFoundException", 404, client.describe_repository,
                            domain=domain, repository="nope")
    assert response["resourceType"] == "repository"
    assert response["resourceId"] == "nope"


# --------------------------------------------------------------------------- update


def test_update_repository_changes_the_description(client, domain):
    client.create_repository(domain=domain, repository="repo", description="old")
    updated = client.update_repository(domain=domain, repository="repo", description="new")["repository"]
    assert updated["description"] == "new"
    assert client.describe_repository(domain=domain, repository="repo")["repository"]["description"] == "new"


def test_update_repository_replaces_clears_and_keeps_upstreams(client, domain):
    make_repos(client, domain, "ra", "rb", "rc")
    client.create_repository(domain=domain, repository="repo", upstreams=ups("ra"))

    replaced = client.update_repository(domain=domain, repository="repo", upstreams=ups("rc", "ra", "rb"))["repository"]
    assert upstream_names(replaced) == ["rc", "ra", "rb"]

    kept = client.update_repository(domain=domain, repository="repo", description="upstreams omitted")["repository"]
    assert upstream_names(kept) == ["rc", "ra", "rb"]
    assert upstream_names(client.describe_repository(domain=domain, repository="repo")["repository"]) == ["rc", "ra", "rb"]

    cleared = client.update_repository(domain=domain, repository="repo", upstreams=[])["repository"]
    assert upstream_names(cleared) == []
    assert upstream_names(client.describe_repository(domain=domain, repository="repo")["repository"]) == []


def test_upstream_cycle_is_a_validation_error_and_changes_nothing(client, domain):
    make_repos(client, domain, "ra", "rb", "rc")
    client.update_repository(domain=domain, repository="ra", upstreams=ups("rb"))
    client.update_repository(domain=domain, repository="rb", upstreams=ups("rc"))
    expect_error(client, "ValidationException", 400, client.update_repository,
                 domain=domain, repository="rc", upstreams=ups("ra"))
    graph = {n: upstream_names(client.describe_repository(domain=domain, repository=n)["repository"])
             for n in ("ra", "rb", "rc")}
    assert graph == {"ra": ["rb"], "rb": ["rc"], "rc": []}


def test_repository_as_its_own_upstream_is_a_validation_error(client, domain):
    make_repos(client, domain, "self")
    expect_error(client, "ValidationException", 400, client.update_repository,
                 domain=domain, repository="self", upstreams=ups("self"))
    assert upstream_names(client.describe_repository(domain=domain, repository="self")["repository"]) == []


def test_update_with_missing_upstream_is_not_found(client, domain):
    make_repos(client, domain, "repo")
    response = expect_error(client, "ResourceNotFoundException", 404, client.update_repository,
                            domain=domain, repository="repo", upstreams=ups("ghost"))
    assert response["resourceType"] == "repository"


def test_update_missing_repository_is_not_found(client, domain):
    response = expect_error(client, "ResourceNotFoundException", 404, client.update_repository,
                            domain=domain, repository="ghost", description="x")
    assert response["resourceType"] == "repository"


# --------------------------------------------------------------------------- list


def test_list_repositories_lists_all_of_the_callers_repositories(client):
    prefix = unique("lr")
    d1, d2 = unique(), unique()
    for d in (d1, d2):
        client.create_domain(domain=d)
    client.create_repository(domain=d1, repository=f"{prefix}-one", description="first")
    client.create_repository(domain=d2, repository=f"{prefix}-two")
    everything = [r for p in client.get_paginator("list_repositories").paginate() for r in p["repositories"]]
    mine = {(r["domainName"], r["name"]): r for r in everything if r["name"].startswith(prefix)}
    assert set(mine) == {(d1, f"{prefix}-one"), (d2, f"{prefix}-two")}
    one = mine[(d1, f"{prefix}-one")]
    assert one["arn"] == repository_arn(d1, f"{prefix}-one")
    assert one["domainOwner"] == ACCOUNT_ID
    assert one["administratorAccount"] == ACCOUNT_ID
    assert one["description"] == "first"
    assert_recent(one["createdTime"])


def test_list_repositories_filters_by_prefix(client, domain):
    prefix = unique("pf")
    make_repos(client, domain, f"{prefix}-a", f"{prefix}-b", f"x{prefix}")
    listed = client.list_repositories(repositoryPrefix=prefix)["repositories"]
    assert sorted(r["name"] for r in listed) == [f"{prefix}-a", f"{prefix}-b"]


def test_list_repositories_tokens_stay_correct_while_repositories_are_added(client, domain):
    prefix = unique("pg")
    originals = [f"{prefix}-{c}" for c in "bcdef"]
    make_repos(client, domain, *originals)
    after, before = f"{prefix}-z", f"{prefix}-a"
    pages = client.get_paginator("list_repositories").paginate(
        repositoryPrefix=prefix, PaginationConfig={"PageSize": 2})
    seen, inserted = walk_pages_with_inserts(
        pages, "repositories", originals, lambda: make_repos(client, domain, after, before), page_size=2)
    assert inserted
    assert_insert_safe_listing(seen, originals, after=after, before=before)


def test_list_repositories_in_domain_filters(client, domain):
    make_repos(client, domain, "npm-store", "npm-team", "pypi-store")
    other = unique()
    client.create_domain(domain=other)
    client.create_repository(domain=other, repository="npm-elsewhere")

    everything = client.list_repositories_in_domain(domain=domain)["repositories"]
    assert sorted(r["name"] for r in everything) == ["npm-store", "npm-team", "pypi-store"]
    assert all(r["domainName"] == domain for r in everything)

    npm = client.list_repositories_in_domain(domain=domain, repositoryPrefix="npm-")["repositories"]
    assert sorted(r["name"] for r in npm) == ["npm-store", "npm-team"]

    own = client.list_repositories_in_domain(domain=domain, administratorAccount=ACCOUNT_ID)["repositories"]
    assert len(own) == 3
    foreign = client.list_repositories_in_domain(domain=domain, administratorAccount=OTHER_ACCOUNT_ID)
    assert foreign["repositories"] == []


def test_list_repositories_in_domain_paginates_with_inserts(client, domain):
    originals = [f"r-{c}" for c in "bcdef"]
    make_repos(client, domain, *originals)
    pages = client.get_paginator("list_repositories_in_domain").paginate(
        domain=domain, PaginationConfig={"PageSize": 2})
    seen, inserted = walk_pages_with_inserts(
        pages, "repositories", originals, lambda: make_repos(client, domain, "r-z", "r-a"), page_size=2)
    assert inserted
    assert_insert_safe_listing(seen, originals, after="r-z", before="r-a")


def test_list_repositories_in_missing_domain_is_not_found(client):
    response = expect_error(client, "ResourceNotFoundException", 404, client.list_repositories_in_domain,
                            domain=unique("missing"))
    assert response["resourceType"] == "domain"


# --------------------------------------------------------------------------- delete


def test_delete_repository_returns_its_description(client, domain):
    client.create_repository(domain=domain, repository="gone", description="bye")
    deleted = client.delete_repository(domain=domain, repository="gone")["repository"]
    assert deleted["name"] == "gone"
    assert deleted["description"] == "bye"
    assert deleted["arn"] == repository_arn(domain, "gone")
    expect_error(client, "ResourceNotFoundException", 404, client.describe_repository,
                 domain=domain, repository="gone")


def test_delete_repository_used_as_upstream_is_a_conflict_until_unlinked(client, domain):
    make_repos(client, domain, "base")
    client.create_repository(domain=domain, repository="app", upstreams=ups("base"))
    expect_error(client, "ConflictException", 409, client.delete_repository, domain=domain, repository="base")
    assert client.describe_repository(domain=domain, repository="base")["repository"]["name"] == "base"
    client.update_repository(domain=domain, repository="app", upstreams=[])
    client.delete_repository(domain=domain, repository="base")


def test_delete_missing_repository_is_not_found(client, domain):
    response = expect_error(client, "ResourceNotFoundException", 404, client.delete_repository,
                            domain=domain, repository="ghost")
    assert response["resourceType"] == "repository"


def test_recreated_repository_starts_fresh(client, domain):
    make_repos(client, domain, "base")
    client.create_repository(domain=domain, repository="repo", description="old",
                             upstreams=ups("base"), tags=tags(k="v"))
    client.delete_repository(domain=domain, repository="repo")
    fresh = client.create_repository(domain=domain, repository="repo")["repository"]
    assert upstream_names(fresh) == []
    assert fresh.get("description") in (None, "")
    assert client.list_tags_for_resource(resourceArn=repository_arn(domain, "repo"))["tags"] == []
