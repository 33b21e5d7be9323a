"""Reading packages, versions and assets through boto3 (and one aws CLI download):
DescribePackage, PutPackageOriginConfiguration, DeletePackage (of an empty record), ListPackages,
ListPackageVersions, DescribePackageVersion, ListPackageVersionAssets, GetPackageVersionAsset,
GetPackageVersionReadme, ListPackageVersionDependencies, and the per-format namespace rules."""

from __future__ import annotations

import random

import pytest

from support import (
    NAMESPACE,
    asset_hashes,
    assert_insert_safe_listing,
    assert_recent,
    describe_version,
    download,
    expect_error,
    generic,
    list_package_names,
    list_versions,
    publish,
    publish_versions,
    restrictions,
    set_origin,
    set_status,
    unique,
    walk_pages_with_inserts_by,
)


@pytest.fixture
def repo(client, domain):
    client.create_repository(domain=domain, repository="repo")
    return "repo"


@pytest.fixture(scope="module")
def shared_repo(client):
    """(domain, repository) shared by the read-only tests of this module: it holds no package."""
    domain = unique("reads")
    client.create_domain(domain=domain)
    client.create_repository(domain=domain, repository="empty")
    return domain, "empty"


def internal_origin(repository: str) -> dict:
    return {"domainEntryPoint": {"repositoryName": repository}, "originType": "INTERNAL"}


# --------------------------------------------------------------------------- packages


def test_describe_package_of_a_published_package(client, domain, repo):
    publish(client, domain, repo, "pkg", "1.0.0", {"a.txt": b"a"})
    package = client.describe_package(**generic(domain, repo, "pkg"))["package"]
    assert package["format"] == "generic"
    assert package["namespace"] == NAMESPACE
    assert package["name"] == "pkg"
    assert package["originConfiguration"] == {"restrictions": restrictions("ALLOW", "BLOCK")}


def test_describe_missing_package_is_not_found(client, shared_repo):
    domain, repo = shared_repo
    response = expect_error(client, "ResourceNotFoundException", 404, client.describe_package,
                            **generic(domain, repo, "never-published"))
    assert response["resourceType"] == "package"


def test_package_calls_in_a_missing_repository_are_not_found(client, shared_repo):
    domain, _ = shared_repo
    for call in (client.describe_package, client.list_package_versions):
        response = expect_error(client, "ResourceNotFoundException", 404, call,
                                **generic(domain, "no-such-repo", "pkg"))
        assert response["resourceType"] == "repository"
    response = expect_error(client, "ResourceNotFoundException", 404, client.list_packages,
                            domain=domain, repository="no-such-repo")
    assert response["resourceType"] == "repository"


def test_put_origin_configuration_creates_a_missing_package_and_delete_package_removes_it(client, domain, repo):
    configured = set_origin(client, domain, repo, "placeholder", "BLOCK", "ALLOW")
    assert configured == {"restrictions": restrictions("BLOCK", "ALLOW")}

    package = client.describe_package(**generic(domain, repo, "placeholder"))["package"]
    assert package["name"] == "placeholder"
    assert package["originConfiguration"] == {"restrictions": restrictions("BLOCK", "ALLOW")}
    listed = client.list_package_versions(**generic(domain, repo, "placeholder"))
    assert listed["versions"] == []
    assert not listed.get("defaultDisplayVersion")
    assert list_package_names(client, domain, repo) == ["placeholder"]

    deleted = client.delete_package(**generic(domain, repo, "placeholder"))["deletedPackage"]
    assert deleted == {"format": "generic", "namespace": NAMESPACE, "package": "placeholder",
                       "originConfiguration": {"restrictions": restrictions("BLOCK", "ALLOW")}}
    expect_error(client, "ResourceNotFoundException", 404, client.describe_package,
                 **generic(domain, repo, "placeholder"))
    assert list_package_names(client, domain, repo) == []


def test_put_origin_configuration_replaces_the_restrictions_of_an_existing_package(client, domain, repo):
    publish(client, domain, repo, "pkg", "1.0.0", {"a.txt": b"a"})
    assert set_origin(client, domain, repo, "pkg", "ALLOW", "ALLOW") == {"restrictions": restrictions("ALLOW", "ALLOW")}
    package = client.describe_package(**generic(domain, repo, "pkg"))["package"]
    assert package["originConfiguration"]["restrictions"] == restrictions("ALLOW", "ALLOW")
    assert [v["version"] for v in list_versions(client, domain, repo, "pkg")] == ["1.0.0"]


# --------------------------------------------------------------------------- ListPackages


def make_mixed_packages(client, domain, repo):
    """Packages of several formats and namespaces (origin records are enough for ListPackages)."""
    publish(client, domain, repo, "b", "1.0.0", {"a.txt": b"b"})
    publish(client, domain, repo, "a", "1.0.0", {"a.txt": b"a"})
    publish(client, domain, repo, "z", "1.0.0", {"a.txt": b"z"}, namespace="alpha")
    set_origin(client, domain, repo, "left-pad", "ALLOW", "BLOCK", format="npm", namespace=None)
    set_origin(client, domain, repo, "react", "ALLOW", "BLOCK", format="npm", namespace="types")
    set_origin(client, domain, repo, "requests", "ALLOW", "BLOCK", format="pypi", namespace=None)
    set_origin(client, domain, repo, "lib", "ALLOW", "BLOCK", format="maven", namespace="org.example")


def test_list_packages_lists_every_package_ordered_by_format_namespace_and_name(client, domain, repo):
    client.create_repository(domain=domain, repository="other")
    publish(client, domain, "other", "elsewhere", "1.0.0", {"a.txt": b"x"})
    make_mixed_packages(client, domain, repo)
    paginator = client.get_paginator("list_packages")
    items = [item for page in paginator.paginate(domain=domain, repository=repo) for item in page["packages"]]
    assert [(i["format"], i.get("namespace"), i["package"]) for i in items] == [
        ("generic", "alpha", "z"),
        ("generic", "ns", "a"),
        ("generic", "ns", "b"),
        ("maven", "org.example", "lib"),
        ("npm", None, "left-pad"),
        ("npm", "types", "react"),
        ("pypi", None, "requests"),
    ]
    for item in items:
        assert item["originConfiguration"] == {"restrictions": restrictions("ALLOW", "BLOCK")}


def test_list_packages_filters(client, domain, repo):
    make_mixed_packages(client, domain, repo)
    publish(client, domain, repo, "nested", "1.0.0", {"a.txt": b"n"}, namespace="ns.sub")
    assert list_package_names(client, domain, repo, format="npm") == ["left-pad", "react"]
    assert list_package_names(client, domain, repo, format="generic") == ["z", "a", "b", "nested"]
    # `namespace` is a prefix filter (the model says so)
    assert list_package_names(client, domain, repo, format="generic", namespace="ns") == ["a", "b", "nested"]
    assert list_package_names(client, domain, repo, namespace="n") == ["a", "b", "nested"]
    assert list_package_names(client, domain, repo, namespace="org.") == ["lib"]
    assert list_package_names(client, domain, repo, packagePrefix="re") == ["react", "requests"]
    assert list_package_names(client, domain, repo, format="generic", packagePrefix="n") == ["nested"]
    assert list_package_names(client, domain, repo, packagePrefix="nothing-starts-so") == []

    set_origin(client, domain, repo, "b", "BLOCK", "ALLOW")
    assert list_package_names(client, domain, repo, publish="BLOCK") == ["b"]
    assert list_package_names(client, domain, repo, upstream="ALLOW") == ["b"]
    assert "b" not in list_package_names(client, domain, repo, publish="ALLOW")
    assert list_package_names(client, domain, repo, publish="ALLOW", upstream="BLOCK") == [
        "z", "a", "nested", "lib", "left-pad", "react", "requests"]
    assert list_package_names(client, domain, repo, publish="BLOCK", upstream="BLOCK") == []


def test_list_packages_paginates_with_packages_inserted_between_pages(client, domain, repo):
    originals = ["p-b", "p-d", "p-f", "p-h"]
    for name in originals:
        publish(client, domain, repo, name, "1.0.0", {"a.txt": name.encode()})

    def insert():
        publish(client, domain, repo, "p-g", "1.0.0", {"a.txt": b"g"})
        publish(client, domain, repo, "p-a", "1.0.0", {"a.txt": b"a"})

    pages = client.get_paginator("list_packages").paginate(domain=domain, repository=repo,
                                                          PaginationConfig={"PageSize": 2})
    seen, inserted = walk_pages_with_inserts_by(pages, "packages", lambda item: item["package"], originals,
                                                insert, page_size=2)
    assert inserted
    assert_insert_safe_listing(seen, originals, after="p-g", before="p-a")
    assert seen == sorted(seen)


# --------------------------------------------------------------------------- ListPackageVersions


@pytest.fixture
def every_status(client, domain, repo):
    """Package `pkg` in `repo` with one version in each stored status."""
    publish_versions(client, domain, repo, "pkg", ["1.0.0", "3.0.0", "4.0.0", "5.0.0"])
    publish(client, domain, repo, "pkg", "2.0.0", {"2.0.0.txt": b"unfinished"}, unfinished=True)
    set_status(client, domain, repo, "pkg", "3.0.0", "Unlisted")
    set_status(client, domain, repo, "pkg", "4.0.0", "Archived")
    set_status(client, domain, repo, "pkg", "5.0.0", "Disposed")
    return {"1.0.0": "Published", "2.0.0": "Unfinished", "3.0.0": "Unlisted", "4.0.0": "Archived",
            "5.0.0": "Disposed"}


def test_list_package_versions_returns_every_status_by_default(client, domain, repo, every_status):
    result = client.list_package_versions(**generic(domain, repo, "pkg"))
    assert result["format"] == "generic"
    assert result["namespace"] == NAMESPACE
    assert result["package"] == "pkg"
    assert "nextToken" not in result
    assert {v["version"]: v["status"] for v in result["versions"]} == every_status
    for item in result["versions"]:
        assert item["revision"] == describe_version(client, domain, repo, "pkg", item["version"])["revision"]
        assert item["origin"] == internal_origin(repo)


@pytest.mark.parametrize("status", ["Published", "Unfinished", "Unlisted", "Archived", "Disposed"])
def test_list_package_versions_status_filter(client, domain, repo, every_status, status):
    listed = list_versions(client, domain, repo, "pkg", status=status)
    assert [(v["version"], v["status"]) for v in listed] == [
        (version, s) for version, s in sorted(every_status.items()) if s == status]


def test_list_package_versions_origin_type_filter(client, domain, repo):
    publish_versions(client, domain, repo, "pkg", ["1.0.0", "2.0.0"])
    assert [v["version"] for v in list_versions(client, domain, repo, "pkg", originType="INTERNAL")] == [
        "1.0.0", "2.0.0"]
    assert list_versions(client, domain, repo, "pkg", originType="EXTERNAL") == []


def test_list_package_versions_default_order_is_by_version_string(client, domain, repo):
    versions = ["1.9.0", "1.10.0", "1.2.0", "10.0.0", "2.0.0", "1.2.0-beta"]
    publish_versions(client, domain, repo, "pkg", random.Random(3).sample(versions, len(versions)))
    # byte order of the version string, not semantic-version order
    assert [v["version"] for v in list_versions(client, domain, repo, "pkg")] == sorted(versions)
    assert sorted(versions)[:3] == ["1.10.0", "1.2.0", "1.2.0-beta"]


def test_list_package_versions_sorted_by_published_time_is_newest_first(client, domain, repo):
    publish_versions(client, domain, repo, "pkg", ["1.0.0", "3.0.0", "2.0.0", "0.5.0"], pause=0.02)
    listed = list_versions(client, domain, repo, "pkg", sortBy="PUBLISHED_TIME")
    assert [v["version"] for v in listed] == ["0.5.0", "2.0.0", "3.0.0", "1.0.0"]
    paged = client.get_paginator("list_package_versions").paginate(
        **generic(domain, repo, "pkg"), sortBy="PUBLISHED_TIME", PaginationConfig={"PageSize": 1})
    assert [v["version"] for page in paged for v in page["versions"]] == ["0.5.0", "2.0.0", "3.0.0", "1.0.0"]


def test_default_display_version_is_the_most_recently_published_published_version(client, domain, repo):
    publish_versions(client, domain, repo, "pkg", ["1.0.0", "3.0.0", "2.0.0"], pause=0.02)

    def default_display():
        return client.list_package_versions(**generic(domain, repo, "pkg")).get("defaultDisplayVersion")

    assert default_display() == "2.0.0"  # the newest, not the highest
    publish(client, domain, repo, "pkg", "4.0.0", {"a.txt": b"4"}, unfinished=True)
    assert default_display() == "2.0.0"  # an Unfinished version is never the default
    set_status(client, domain, repo, "pkg", "2.0.0", "Unlisted")
    assert default_display() == "3.0.0"
    set_status(client, domain, repo, "pkg", "3.0.0", "Archived")
    assert default_display() == "1.0.0"
    set_status(client, domain, repo, "pkg", "1.0.0", "Disposed")
    assert default_display() is None


def test_list_package_versions_paginates(client, domain, repo):
    versions = [f"1.0.{i}" for i in range(5)]
    publish_versions(client, domain, repo, "pkg", versions)
    pages = list(client.get_paginator("list_package_versions").paginate(
        **generic(domain, repo, "pkg"), PaginationConfig={"PageSize": 2}))
    assert [len(p["versions"]) for p in pages] == [2, 2, 1]
    assert [v["version"] for p in pages for v in p["versions"]] == versions
    for page in pages:
        assert page["package"] == "pkg"
        assert page["format"] == "generic"
    assert "nextToken" not in pages[-1]


def test_list_package_versions_of_a_missing_package_is_not_found(client, shared_repo):
    domain, repo = shared_repo
    response = expect_error(client, "ResourceNotFoundException", 404, client.list_package_versions,
                            **generic(domain, repo, "never-published"))
    assert response["resourceType"] == "package"


# --------------------------------------------------------------------------- DescribePackageVersion


def test_describe_package_version_returns_every_field(client, domain, repo):
    published = publish(client, domain, repo, "pkg", "1.2.3", {"a.txt": b"a", "b.txt": b"b"})
    described = client.describe_package_version(**generic(domain, repo, "pkg"),
                                                packageVersion="1.2.3")["packageVersion"]
    assert described["format"] == "generic"
    assert described["namespace"] == NAMESPACE
    assert described["packageName"] == "pkg"
    assert described["displayName"] == "pkg"
    assert described["version"] == "1.2.3"
    assert_recent(described["publishedTime"])
    assert described["revision"] == published["versionRevision"]
    assert described["status"] == "Published"
    assert described["origin"] == internal_origin(repo)
    assert not described.get("licenses")


def test_describe_missing_package_version_is_not_found(client, domain, repo):
    publish(client, domain, repo, "pkg", "1.0.0", {"a.txt": b"a"})
    response = expect_error(client, "ResourceNotFoundException", 404, client.describe_package_version,
                            **generic(domain, repo, "pkg"), packageVersion="9.9.9")
    assert response["resourceType"] == "package-version"


# --------------------------------------------------------------------------- ListPackageVersionAssets


def test_list_package_version_assets(client, domain, repo):
    assets = {"lib.so": b"\x7fELF" + bytes(range(256)), "README": b"read me", "data.json": b"{}"}
    published = publish(client, domain, repo, "pkg", "1.0.0", assets)
    result = client.list_package_version_assets(**generic(domain, repo, "pkg"), packageVersion="1.0.0")
    assert result["format"] == "generic"
    assert result["namespace"] == NAMESPACE
    assert result["package"] == "pkg"
    assert result["version"] == "1.0.0"
    assert result["versionRevision"] == published["versionRevision"]
    assert result["assets"] == [{"name": name, "size": len(assets[name]), "hashes": asset_hashes(assets[name])}
                                for name in sorted(assets)]


def test_list_package_version_assets_paginates(client, domain, repo):
    assets = {f"asset-{i}": f"content {i}".encode() for i in range(5)}
    publish(client, domain, repo, "pkg", "1.0.0", assets)
    names, sizes, token = [], [], None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = client.list_package_version_assets(**generic(domain, repo, "pkg"), packageVersion="1.0.0",
                                                  maxResults=2, **kwargs)
        sizes.append(len(page["assets"]))
        names += [a["name"] for a in page["assets"]]
        token = page.get("nextToken")
        if not token:
            break
    assert sizes == [2, 2, 1]
    assert names == sorted(assets)


def test_list_package_version_assets_of_a_missing_version_is_not_found(client, domain, repo):
    publish(client, domain, repo, "pkg", "1.0.0", {"a.txt": b"a"})
    response = expect_error(client, "ResourceNotFoundException", 404, client.list_package_version_assets,
                            **generic(domain, repo, "pkg"), packageVersion="2.0.0")
    assert response["resourceType"] == "package-version"


# --------------------------------------------------------------------------- GetPackageVersionAsset


def test_get_package_version_asset_returns_the_bytes_and_the_headers(client, domain, repo):
    content = random.Random(7).randbytes(10_000)
    published = publish(client, domain, repo, "pkg", "1.0.0", {"blob.bin": content, "other.txt": b"other"})
    body, response = download(client, domain, repo, "pkg", "1.0.0", "blob.bin")
    assert body == content
    assert response["assetName"] == "blob.bin"
    assert response["packageVersion"] == "1.0.0"
    assert response["packageVersionRevision"] == published["versionRevision"]


def test_get_package_version_asset_pinned_to_a_revision(client, domain, repo):
    first = publish(client, domain, repo, "pkg", "1.0.0", {"a.txt": b"a"}, unfinished=True)
    current = publish(client, domain, repo, "pkg", "1.0.0", {"b.txt": b"b"})
    assert first["versionRevision"] != current["versionRevision"]
    body, _ = download(client, domain, repo, "pkg", "1.0.0", "a.txt",
                       packageVersionRevision=current["versionRevision"])
    assert body == b"a"
    for stale in (first["versionRevision"], "not-a-revision-of-this-version"):
        expect_error(client, "ResourceNotFoundException", 404, lambda: download(client, domain, repo, "pkg", "1.0.0",
                     "a.txt", packageVersionRevision=stale))


def test_unlisted_version_assets_are_downloadable(client, domain, repo):
    publish(client, domain, repo, "pkg", "1.0.0", {"a.txt": b"still here"})
    set_status(client, domain, repo, "pkg", "1.0.0", "Unlisted")
    body, _ = download(client, domain, repo, "pkg", "1.0.0", "a.txt")
    assert body == b"still here"


@pytest.mark.parametrize("status", ["Archived", "Unfinished", "Disposed"])
def test_assets_of_versions_that_are_not_downloadable_are_a_conflict(client, domain, repo, status):
    publish(client, domain, repo, "pkg", "1.0.0", {"a.txt": b"a"}, unfinished=status == "Unfinished")
    if status != "Unfinished":
        set_status(client, domain, repo, "pkg", "1.0.0", status)
    expect_error(client, "ConflictException", 409, lambda: download(client, domain, repo, "pkg", "1.0.0", "a.txt"))


def test_unknown_asset_name_is_not_found(client, domain, repo):
    publish(client, domain, repo, "pkg", "1.0.0", {"a.txt": b"a"})
    response = expect_error(client, "ResourceNotFoundException", 404, lambda: download(client, domain, repo, "pkg",
                            "1.0.0", "b.txt"))
    assert response["resourceType"] == "asset"


def test_twenty_mib_asset_round_trips_byte_exact(client, domain, repo):
    block = random.Random(20).randbytes(1 << 20)
    content = b"".join(i.to_bytes(4, "big") + block[4:] for i in range(20))
    published = publish(client, domain, repo, "pkg", "1.0.0", {"big.bin": content})
    assert published["asset"]["size"] == 20 << 20
    assert published["asset"]["hashes"] == asset_hashes(content)
    body, _ = download(client, domain, repo, "pkg", "1.0.0", "big.bin")
    assert len(body) == len(content)
    assert body == content


def test_cli_get_package_version_asset_writes_the_outfile(aws, client, domain, repo, tmp_path):
    content = b"downloaded by the aws cli\n" * 50
    published = publish(client, domain, repo, "pkg", "1.0.0", {"cli.txt": content})
    outfile = tmp_path / "out.txt"
    printed = aws("codeartifact", "get-package-version-asset", "--domain", domain, "--repository", repo,
                  "--format", "generic", "--namespace", NAMESPACE, "--package", "pkg",
                  "--package-version", "1.0.0", "--asset", "cli.txt", str(outfile))
    assert outfile.read_bytes() == content
    assert printed == {"assetName": "cli.txt", "packageVersion": "1.0.0",
                       "packageVersionRevision": published["versionRevision"]}


# --------------------------------------------------------------------------- readme and dependencies


def test_generic_readme_is_answered_without_a_readme(client, domain, repo):
    published = publish(client, domain, repo, "pkg", "1.0.0", {"README.md": b"# not interpreted"})
    result = client.get_package_version_readme(**generic(domain, repo, "pkg"), packageVersion="1.0.0")
    assert "readme" not in result
    assert result["format"] == "generic"
    assert result["namespace"] == NAMESPACE
    assert result["package"] == "pkg"
    assert result["version"] == "1.0.0"
    assert result["versionRevision"] == published["versionRevision"]


def test_generic_versions_have_no_dependencies(client, domain, repo):
    published = publish(client, domain, repo, "pkg", "1.0.0", {"a.txt": b"a"})
    result = client.list_package_version_dependencies(**generic(domain, repo, "pkg"), packageVersion="1.0.0")
    assert result["dependencies"] == []
    assert result["versionRevision"] == published["versionRevision"]
    assert result["version"] == "1.0.0"
    assert "nextToken" not in result


def test_readme_and_dependencies_of_a_missing_version_are_not_found(client, domain, repo):
    publish(client, domain, repo, "pkg", "1.0.0", {"a.txt": b"a"})
    for call in (client.get_package_version_readme, client.list_package_version_dependencies):
        response = expect_error(client, "ResourceNotFoundException", 404, call, **generic(domain, repo, "pkg"),
                                packageVersion="2.0.0")
        assert response["resourceType"] == "package-version"


# --------------------------------------------------------------------------- namespace rules

NAMESPACE_CASES = [
    # (format, namespace or None, expected error code)
    ("maven", None, "ValidationException"),
    ("swift", None, "ValidationException"),
    ("generic", None, "ValidationException"),
    ("maven", "org.example", "ResourceNotFoundException"),
    ("swift", "scope", "ResourceNotFoundException"),
    ("generic", "ns", "ResourceNotFoundException"),
    ("pypi", "ns", "ValidationException"),
    ("nuget", "ns", "ValidationException"),
    ("ruby", "ns", "ValidationException"),
    ("cargo", "ns", "ValidationException"),
    ("pypi", None, "ResourceNotFoundException"),
    ("nuget", None, "ResourceNotFoundException"),
    ("ruby", None, "ResourceNotFoundException"),
    ("cargo", None, "ResourceNotFoundException"),
    ("npm", None, "ResourceNotFoundException"),
    ("npm", "scope", "ResourceNotFoundException"),
]
STATUS = {"ValidationException": 400, "ResourceNotFoundException": 404}


@pytest.mark.parametrize("operation", ["describe_package", "list_package_versions"])
@pytest.mark.parametrize("package_format, namespace, code", NAMESPACE_CASES,
                         ids=[f"{f}-{'ns' if n else 'no-ns'}" for f, n, _ in NAMESPACE_CASES])
def test_namespace_rules_per_format(client, shared_repo, operation, package_format, namespace, code):
    domain, repo = shared_repo
    kwargs = {"domain": domain, "repository": repo, "format": package_format, "package": "absent"}
    if namespace is not None:
        kwargs["namespace"] = namespace
    response = expect_error(client, code, STATUS[code], getattr(client, operation), **kwargs)
    if code == "ResourceNotFoundException":
        assert response["resourceType"] == "package"
