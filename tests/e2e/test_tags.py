"""TagResource / UntagResource / ListTagsForResource on domain and repository ARNs."""

from __future__ import annotations

import pytest

from support import domain_arn, expect_error, repository_arn, tag_dict, tags, unique

MAX_TAGS = 50


@pytest.fixture(params=["domain", "repository"])
def tagged_arn(request, client):
    """A fresh domain or repository created with tags {a: 1, b: 2}; yields its ARN."""
    name = unique()
    if request.param == "domain":
        client.create_domain(domain=name, tags=tags(a="1", b="2"))
        return domain_arn(name)
    client.create_domain(domain=name)
    client.create_repository(domain=name, repository="tagged", tags=tags(a="1", b="2"))
    return repository_arn(name, "tagged")


def listed(client, arn) -> dict[str, str]:
    return tag_dict(client.list_tags_for_resource(resourceArn=arn)["tags"])


def test_tags_from_create_are_listed(client, tagged_arn):
    assert listed(client, tagged_arn) == {"a": "1", "b": "2"}


def test_tag_resource_adds_and_overwrites(client, tagged_arn):
    client.tag_resource(resourceArn=tagged_arn, tags=tags(b="two", c="3", empty=""))
    assert listed(client, tagged_arn) == {"a": "1", "b": "two", "c": "3", "empty": ""}


def test_untag_resource_removes_keys_and_ignores_absent_ones(client, tagged_arn):
    client.untag_resource(resourceArn=tagged_arn, tagKeys=["a", "never-there"])
    assert listed(client, tagged_arn) == {"b": "2"}
    client.untag_resource(resourceArn=tagged_arn, tagKeys=["b"])
    assert listed(client, tagged_arn) == {}


@pytest.mark.parametrize("call", ["list", "tag", "untag"])
@pytest.mark.parametrize("kind", ["domain", "repository"])
def test_unknown_resource_is_not_found(client, domain, call, kind):
    arn = domain_arn(unique("missing")) if kind == "domain" else repository_arn(domain, "missing-repo")
    operations = {
        "list": (client.list_tags_for_resource, {}),
        "tag": (client.tag_resource, {"tags": tags(k="v")}),
        "untag": (client.untag_resource, {"tagKeys": ["k"]}),
    }
    operation, extra = operations[call]
    expect_error(client, "ResourceNotFoundException", 404, operation, resourceArn=arn, **extra)


@pytest.mark.parametrize("arn", [
    "not-an-arn",
    "arn:aws:codeartifact:us-east-1:111122223333:bucket/x",
    "arn:aws:s3:::some-bucket",
    "arn:aws:codeartifact:us-east-1:12345:domain/short-account",
], ids=["not-an-arn", "unknown-resource-type", "other-service", "bad-account"])
def test_malformed_arn_is_a_validation_error(client, arn):
    expect_error(client, "ValidationException", 400, client.list_tags_for_resource, resourceArn=arn)
    expect_error(client, "ValidationException", 400, client.tag_resource, resourceArn=arn, tags=tags(k="v"))


def test_fifty_tags_per_resource_and_no_more(client, tagged_arn):
    # {a, b} + 48 new keys = 50: allowed
    client.tag_resource(resourceArn=tagged_arn, tags=[{"key": f"k{i:02d}", "value": "v"} for i in range(48)])
    assert len(listed(client, tagged_arn)) == MAX_TAGS
    before = listed(client, tagged_arn)

    # one new key more (sent together with an overwrite): refused, nothing changes
    expect_error(client, "ServiceQuotaExceededException", 402, client.tag_resource,
                 resourceArn=tagged_arn, tags=tags(a="changed", extra="x"))
    assert listed(client, tagged_arn) == before

    # overwriting an existing key at the limit is fine
    client.tag_resource(resourceArn=tagged_arn, tags=tags(a="changed"))
    assert listed(client, tagged_arn)["a"] == "changed"


def test_more_than_fifty_tags_in_one_call_is_refused(client, domain):
    client.create_repository(domain=domain, repository="repo")
    arn = repository_arn(domain, "repo")
    error = expect_error(client, "ServiceQuotaExceededException", 402, client.tag_resource,
                         resourceArn=arn, tags=[{"key": f"k{i:02d}", "value": "v"} for i in range(51)])
    # the model's ResourceType has no "tag": the full resource is named (compatibility 74)
    assert (error.get("resourceType"), error.get("resourceId")) == ("repository", "repo"), error
    assert listed(client, arn) == {}
    domain_arn = client.describe_domain(domain=domain)["domain"]["arn"]
    error = expect_error(client, "ServiceQuotaExceededException", 402, client.tag_resource,
                         resourceArn=domain_arn, tags=[{"key": f"k{i:02d}", "value": "v"} for i in range(51)])
    assert (error.get("resourceType"), error.get("resourceId")) == ("domain", domain), error


def test_deleting_a_repository_drops_its_tags(client, domain):
    client.create_repository(domain=domain, repository="repo", tags=tags(a="1"))
    client.tag_resource(resourceArn=repository_arn(domain, "repo"), tags=tags(b="2"))
    client.delete_repository(domain=domain, repository="repo")
    expect_error(client, "ResourceNotFoundException", 404, client.list_tags_for_resource,
                 resourceArn=repository_arn(domain, "repo"))
    client.create_repository(domain=domain, repository="repo")
    assert listed(client, repository_arn(domain, "repo")) == {}
