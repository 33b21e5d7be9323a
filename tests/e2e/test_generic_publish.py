"""PublishPackageVersion of generic packages through boto3 and the aws CLI: the response, multi-asset
versions, conflicts and idempotence, the SHA-256 integrity check, name/format rules, origin
controls and the per-version asset quotas."""

from __future__ import annotations

import pytest

from support import (
    BACKENDS,
    NAMESPACE,
    asset_hashes,
    asset_size_bytes,
    describe_version,
    download,
    expect_error,
    generic,
    list_assets,
    list_package_names,
    make_client,
    publish,
    publish_asset,
    running_server,
    set_origin,
    sha256_hex,
    unique,
)

# A server whose per-version quotas are small enough to hit (conftest's servers keep the defaults).
ASSET_QUOTAS = {"domains_per_account": 100, "assets_per_version": 3, "asset_size_bytes": 1024}


@pytest.fixture(scope="module", params=BACKENDS, ids=BACKENDS)
def asset_quota_client(request, tmp_path_factory):
    workdir = tmp_path_factory.mktemp(f"asset-quota-server-{request.param}")
    with running_server(request.param, workdir, quotas=ASSET_QUOTAS) as running:
        yield make_client(running.url)


@pytest.fixture
def repo(client, domain):
    client.create_repository(domain=domain, repository="repo")
    return "repo"


# --------------------------------------------------------------------------- the response


@pytest.mark.parametrize("unfinished, status", [(True, "Unfinished"), (False, "Published")],
                         ids=["unfinished", "published"])
def test_publish_returns_the_version_and_the_asset_summary(client, domain, repo, unfinished, status):
    content = b"hello, generic world\n" * 10
    response = publish_asset(client, domain, repo, "pkg", "1.0.0", "hello.txt", content, unfinished=unfinished)
    assert response["format"] == "generic"
    assert response["namespace"] == NAMESPACE
    assert response["package"] == "pkg"
    assert response["version"] == "1.0.0"
    assert response["versionRevision"]
    assert response["status"] == status
    assert response["asset"] == {"name": "hello.txt", "size": len(content), "hashes": asset_hashes(content)}
    described = describe_version(client, domain, repo, "pkg", "1.0.0")
    assert described["status"] == status
    assert described["revision"] == response["versionRevision"]


def test_multi_asset_version_lists_every_asset_sorted_and_each_asset_changes_the_revision(client, domain, repo):
    assets = {"c.txt": b"c" * 3, "a.txt": b"a", "d.bin": b"\x00\x01\x02\xff", "b.txt": b"bb"}
    revisions = []
    for index, (name, content) in enumerate(assets.items()):
        last = index == len(assets) - 1
        response = publish_asset(client, domain, repo, "multi", "2.0.0", name, content, unfinished=not last)
        assert response["status"] == ("Published" if last else "Unfinished")
        revisions.append(response["versionRevision"])
    assert len(set(revisions)) == len(revisions), f"a revision repeated after adding an asset: {revisions}"

    listed = list_assets(client, domain, repo, "multi", "2.0.0")
    assert [a["name"] for a in listed] == sorted(assets)
    for summary in listed:
        content = assets[summary["name"]]
        assert summary["size"] == len(content)
        assert summary["hashes"] == asset_hashes(content)
    described = describe_version(client, domain, repo, "multi", "2.0.0")
    assert described["status"] == "Published"
    assert described["revision"] == revisions[-1]


def test_publish_helper_publishes_all_assets_into_one_version(client, domain, repo):
    response = publish(client, domain, repo, "helper", "1.0.0", {"x": b"x", "y": b"y", "z": b"z"})
    assert response["status"] == "Published"
    assert response["asset"]["name"] == "z"
    assert [a["name"] for a in list_assets(client, domain, repo, "helper", "1.0.0")] == ["x", "y", "z"]


# --------------------------------------------------------------------------- conflicts and idempotence


def test_new_asset_into_a_published_version_is_a_conflict(client, domain, repo):
    before = publish(client, domain, repo, "pkg", "1.0.0", {"first.txt": b"first"})
    expect_error(client, "ConflictException", 409, lambda: publish_asset(client, domain, repo, "pkg", "1.0.0",
                 "second.txt", b"second"))
    expect_error(client, "ConflictException", 409, lambda: publish_asset(client, domain, repo, "pkg", "1.0.0",
                 "third.txt", b"third", unfinished=True))
    assert [a["name"] for a in list_assets(client, domain, repo, "pkg", "1.0.0")] == ["first.txt"]
    described = describe_version(client, domain, repo, "pkg", "1.0.0")
    assert described["revision"] == before["versionRevision"]
    assert described["status"] == "Published"


@pytest.mark.parametrize("unfinished", [True, False], ids=["unfinished", "published"])
def test_republishing_an_identical_asset_is_idempotent(client, domain, repo, unfinished):
    first = publish(client, domain, repo, "pkg", "1.0.0", {"a.txt": b"same bytes"}, unfinished=unfinished)
    again = publish_asset(client, domain, repo, "pkg", "1.0.0", "a.txt", b"same bytes", unfinished=unfinished)
    assert again["versionRevision"] == first["versionRevision"]
    assert again["status"] == first["status"]
    assert again["asset"] == first["asset"]
    assert len(list_assets(client, domain, repo, "pkg", "1.0.0")) == 1


@pytest.mark.parametrize("unfinished", [True, False], ids=["unfinished", "published"])
def test_same_asset_name_with_different_bytes_is_a_conflict(client, domain, repo, unfinished):
    first = publish(client, domain, repo, "pkg", "1.0.0", {"a.txt": b"original"}, unfinished=unfinished)
    response = expect_error(client, "ConflictException", 409, lambda: publish_asset(client, domain, repo, "pkg",
                            "1.0.0", "a.txt", b"replacement", unfinished=unfinished))
    assert response["resourceType"] == "asset"
    assert describe_version(client, domain, repo, "pkg", "1.0.0")["revision"] == first["versionRevision"]
    if not unfinished:
        body, _ = download(client, domain, repo, "pkg", "1.0.0", "a.txt")
        assert body == b"original"


# --------------------------------------------------------------------------- the integrity check


def test_sha256_that_does_not_match_the_body_is_refused_and_nothing_is_stored(client, domain, repo):
    # boto3 signs with assetSHA256 as the payload hash, so the signature verifies: the server has
    # to notice on its own that the bytes do not hash to it.
    wrong = sha256_hex(b"some other content")
    expect_error(client, "ValidationException", 400, lambda: publish_asset(client, domain, repo, "pkg", "1.0.0",
                 "a.txt", b"the real content", sha256=wrong))
    response = expect_error(client, "ResourceNotFoundException", 404, lambda: describe_version(client, domain, repo,
                            "pkg", "1.0.0"))
    assert response["resourceType"] in ("package", "package-version")
    assert list_package_names(client, domain, repo) == []
    assert asset_size_bytes(client, domain) == 0


def test_sha256_mismatch_adds_nothing_to_an_unfinished_version(client, domain, repo):
    first = publish(client, domain, repo, "pkg", "1.0.0", {"a.txt": b"a"}, unfinished=True)
    expect_error(client, "ValidationException", 400, lambda: publish_asset(client, domain, repo, "pkg", "1.0.0",
                 "b.txt", b"b", unfinished=True, sha256=sha256_hex(b"not b")))
    assert [a["name"] for a in list_assets(client, domain, repo, "pkg", "1.0.0")] == ["a.txt"]
    assert describe_version(client, domain, repo, "pkg", "1.0.0")["revision"] == first["versionRevision"]


# --------------------------------------------------------------------------- request rules


@pytest.mark.parametrize("package_format", ["npm", "pypi", "maven", "nuget", "ruby", "swift", "cargo"])
def test_publish_of_a_format_other_than_generic_is_a_validation_error(client, domain, repo, package_format):
    kwargs = dict(domain=domain, repository=repo, format=package_format, package="pkg", packageVersion="1.0.0",
                  assetName="a.txt", assetContent=b"a", assetSHA256=sha256_hex(b"a"))
    if package_format in ("maven", "swift", "npm"):
        kwargs["namespace"] = "ns"
    expect_error(client, "ValidationException", 400, client.publish_package_version, **kwargs)
    assert list_package_names(client, domain, repo) == []


def test_generic_publish_without_namespace_is_a_validation_error(client, domain, repo):
    expect_error(client, "ValidationException", 400, client.publish_package_version, domain=domain,
                 repository=repo, format="generic", package="pkg", packageVersion="1.0.0", assetName="a.txt",
                 assetContent=b"a", assetSHA256=sha256_hex(b"a"))
    assert list_package_names(client, domain, repo) == []


@pytest.mark.parametrize(
    "name",
    ["..", ".", " lead", "trail ", "a  b", "a\tb", "a*b", "a/b", "a\u200bb"],
    ids=["dotdot", "dot", "leading-space", "trailing-space", "double-space", "tab", "star", "slash",
         "zero-width-space"],
)
def test_invalid_generic_asset_name_is_a_validation_error(client, domain, repo, name):
    expect_error(client, "ValidationException", 400, lambda: publish_asset(client, domain, repo, "pkg", "1.0.0",
                 name, b"content"))
    assert list_package_names(client, domain, repo) == []


@pytest.mark.parametrize(
    "name",
    ["plain.txt", "with one space.tar.gz", "Ünïcødé_名前-1.0", "~!@^&()-_+[]{};,.", "...x", "x..y"],
    ids=["plain", "single-spaces", "unicode-letters", "all-punctuation", "leading-dots", "inner-dots"],
)
def test_valid_generic_asset_names_round_trip(client, domain, repo, name):
    content = f"content of {name}".encode()
    publish(client, domain, repo, "pkg", "1.0.0", {name: content})
    assert [a["name"] for a in list_assets(client, domain, repo, "pkg", "1.0.0")] == [name]
    body, response = download(client, domain, repo, "pkg", "1.0.0", name)
    assert body == content
    if name.isascii():  # X-AssetName is an HTTP header: how non-ASCII travels there is not pinned here
        assert response["assetName"] == name


def test_publish_into_a_package_whose_publish_restriction_is_block_is_access_denied(client, domain, repo):
    set_origin(client, domain, repo, "blocked", "BLOCK", "ALLOW")
    expect_error(client, "AccessDeniedException", 403, lambda: publish_asset(client, domain, repo, "blocked", "1.0.0",
                 "a.txt", b"a"))
    assert client.list_package_versions(**generic(domain, repo, "blocked"))["versions"] == []

    publish(client, domain, repo, "later-blocked", "1.0.0", {"a.txt": b"a"})
    set_origin(client, domain, repo, "later-blocked", "BLOCK", "BLOCK")
    expect_error(client, "AccessDeniedException", 403, lambda: publish_asset(client, domain, repo, "later-blocked",
                 "2.0.0", "a.txt", b"a"))
    assert [v["version"] for v in client.list_package_versions(**generic(domain, repo, "later-blocked"))[
        "versions"]] == ["1.0.0"]

    set_origin(client, domain, repo, "later-blocked", "ALLOW", "BLOCK")
    assert publish(client, domain, repo, "later-blocked", "2.0.0", {"a.txt": b"a"})["status"] == "Published"


# --------------------------------------------------------------------------- quotas


def test_asset_beyond_assets_per_version_is_a_service_quota_error(asset_quota_client):
    client = asset_quota_client
    domain = unique()
    client.create_domain(domain=domain)
    client.create_repository(domain=domain, repository="repo")
    publish(client, domain, "repo", "pkg", "1.0.0", {"1": b"1", "2": b"2", "3": b"3"}, unfinished=True)
    expect_error(client, "ServiceQuotaExceededException", 402, lambda: publish_asset(client, domain, "repo", "pkg",
                 "1.0.0", "4", b"4", unfinished=True))
    assert [a["name"] for a in list_assets(client, domain, "repo", "pkg", "1.0.0")] == ["1", "2", "3"]
    # the quota counts assets of one version, not of the package
    publish(client, domain, "repo", "pkg", "2.0.0", {"1": b"1", "2": b"2", "3": b"3"})
    assert len(list_assets(client, domain, "repo", "pkg", "2.0.0")) == 3


def test_asset_larger_than_asset_size_bytes_is_a_service_quota_error(asset_quota_client):
    client = asset_quota_client
    domain = unique()
    client.create_domain(domain=domain)
    client.create_repository(domain=domain, repository="repo")
    expect_error(client, "ServiceQuotaExceededException", 402, lambda: publish_asset(client, domain, "repo", "pkg",
                 "1.0.0", "big.bin", b"\xab" * 2048))
    expect_error(client, "ResourceNotFoundException", 404, lambda: describe_version(client, domain, "repo", "pkg",
                 "1.0.0"))
    assert asset_size_bytes(client, domain) == 0
    # the limit itself is allowed
    exact = publish(client, domain, "repo", "pkg", "1.0.0", {"exact.bin": b"\xcd" * 1024})
    assert exact["asset"]["size"] == 1024
    assert asset_size_bytes(client, domain) == 1024


# --------------------------------------------------------------------------- aws CLI


def test_cli_publish_package_version(aws, client, domain, repo, tmp_path):
    content = b"published by the aws cli\n" * 100
    path = tmp_path / "cli-asset.tar.gz"
    path.write_bytes(content)
    published = aws("codeartifact", "publish-package-version", "--domain", domain, "--repository", repo,
                    "--format", "generic", "--namespace", "ns", "--package", "cli-pkg",
                    "--package-version", "1.0.0", "--asset-content", str(path),
                    "--asset-name", path.name, "--asset-sha256", sha256_hex(content))
    assert published["status"] == "Published"
    assert published["asset"]["name"] == path.name
    assert published["asset"]["size"] == len(content)
    assert published["asset"]["hashes"] == asset_hashes(content)
    body, _ = download(client, domain, repo, "cli-pkg", "1.0.0", path.name)
    assert body == content
