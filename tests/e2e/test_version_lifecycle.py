"""A version's life after publishing, through boto3: UpdatePackageVersionsStatus,
DisposePackageVersions, DeletePackageVersions, DeletePackage, the all-or-nothing batch results,
and domain-level asset deduplication with the `reliquary gc` sweep."""

from __future__ import annotations

import os

import pytest

from support import (
    NAMESPACE,
    asset_size_bytes,
    blob_files,
    describe_version,
    download,
    expect_error,
    failed_codes,
    generic,
    list_assets,
    list_package_names,
    list_versions,
    publish,
    publish_versions,
    restrictions,
    run_gc,
    set_origin,
    set_status,
    sha256_hex,
    version_statuses,
)


@pytest.fixture
def repo(client, domain):
    client.create_repository(domain=domain, repository="repo")
    return "repo"


def update(client, domain, repo, versions, target, package="pkg", **kwargs):
    return client.update_package_versions_status(**generic(domain, repo, package), versions=versions,
                                                 targetStatus=target, **kwargs)


def dispose(client, domain, repo, versions, package="pkg", **kwargs):
    return client.dispose_package_versions(**generic(domain, repo, package), versions=versions, **kwargs)


def delete(client, domain, repo, versions, package="pkg", **kwargs):
    return client.delete_package_versions(**generic(domain, repo, package), versions=versions, **kwargs)


def failed_message(result, version):
    return result["failedVersions"][version]["errorMessage"]


# --------------------------------------------------------------------------- UpdatePackageVersionsStatus


def test_status_round_trip_never_changes_the_revision(client, domain, repo):
    revision = publish_versions(client, domain, repo, "pkg", ["1.0.0"])["1.0.0"]
    for target in ["Unlisted", "Archived", "Published", "Archived", "Unlisted", "Published"]:
        result = update(client, domain, repo, ["1.0.0"], target)
        assert result["successfulVersions"] == {"1.0.0": {"revision": revision, "status": target}}
        assert not result.get("failedVersions")
        described = describe_version(client, domain, repo, "pkg", "1.0.0")
        assert described["status"] == target
        assert described["revision"] == revision
        assert list_versions(client, domain, repo, "pkg")[0]["revision"] == revision


def test_unfinished_version_can_be_published_by_status_update(client, domain, repo):
    unfinished = publish(client, domain, repo, "pkg", "1.0.0", {"a.txt": b"a", "b.txt": b"b"}, unfinished=True)
    assert unfinished["status"] == "Unfinished"
    result = update(client, domain, repo, ["1.0.0"], "Published")
    assert result["successfulVersions"] == {"1.0.0": {"revision": unfinished["versionRevision"], "status": "Published"}}
    body, _ = download(client, domain, repo, "pkg", "1.0.0", "b.txt")
    assert body == b"b"


def test_several_versions_in_one_request(client, domain, repo):
    revisions = publish_versions(client, domain, repo, "pkg", ["1.0.0", "1.1.0", "1.2.0"])
    result = update(client, domain, repo, ["1.0.0", "1.2.0"], "Archived")
    assert result["successfulVersions"] == {v: {"revision": revisions[v], "status": "Archived"}
                                            for v in ("1.0.0", "1.2.0")}
    assert version_statuses(client, domain, repo, "pkg") == {
        "1.0.0": "Archived", "1.1.0": "Published", "1.2.0": "Archived"}


@pytest.mark.parametrize("target", ["Unfinished", "Disposed", "Deleted"])
def test_target_status_that_update_cannot_set_is_a_validation_error(client, domain, repo, target):
    publish_versions(client, domain, repo, "pkg", ["1.0.0"])
    expect_error(client, "ValidationException", 400, update, client=client, domain=domain, repo=repo,
                 versions=["1.0.0"], target=target)
    assert version_statuses(client, domain, repo, "pkg") == {"1.0.0": "Published"}


@pytest.mark.parametrize("target", ["Published", "Unlisted", "Archived"])
def test_disposed_version_cannot_be_restored(client, domain, repo, target):
    publish_versions(client, domain, repo, "pkg", ["1.0.0"])
    set_status(client, domain, repo, "pkg", "1.0.0", "Disposed")
    result = update(client, domain, repo, ["1.0.0"], target)
    assert result["successfulVersions"] == {}
    assert failed_codes(result) == {"1.0.0": "NOT_ALLOWED"}
    assert failed_message(result, "1.0.0")
    assert version_statuses(client, domain, repo, "pkg") == {"1.0.0": "Disposed"}


def test_expected_status_mismatch(client, domain, repo):
    publish_versions(client, domain, repo, "pkg", ["4.0.0", "4.1.0"])
    result = update(client, domain, repo, ["4.1.0", "4.0.0"], "Archived", expectedStatus="Unlisted")
    assert result["successfulVersions"] == {}
    assert failed_codes(result) == {"4.0.0": "MISMATCHED_STATUS", "4.1.0": "MISMATCHED_STATUS"}
    for version in ("4.0.0", "4.1.0"):
        assert failed_message(result, version) == "current status: Published, expected status: Unlisted"
    assert set(version_statuses(client, domain, repo, "pkg").values()) == {"Published"}

    matched = update(client, domain, repo, ["4.0.0", "4.1.0"], "Archived", expectedStatus="Published")
    assert set(matched["successfulVersions"]) == {"4.0.0", "4.1.0"}


def test_expected_status_mismatch_of_one_version_skips_the_others(client, domain, repo):
    publish_versions(client, domain, repo, "pkg", ["1.0.0", "2.0.0"])
    set_status(client, domain, repo, "pkg", "2.0.0", "Unlisted")
    result = update(client, domain, repo, ["1.0.0", "2.0.0"], "Archived", expectedStatus="Unlisted")
    assert result["successfulVersions"] == {}
    assert failed_codes(result) == {"1.0.0": "MISMATCHED_STATUS", "2.0.0": "SKIPPED"}
    assert version_statuses(client, domain, repo, "pkg") == {"1.0.0": "Published", "2.0.0": "Unlisted"}


def test_version_revision_mismatch(client, domain, repo):
    revision = publish_versions(client, domain, repo, "pkg", ["1.0.0"])["1.0.0"]
    result = update(client, domain, repo, ["1.0.0"], "Unlisted", versionRevisions={"1.0.0": "not-the-revision"})
    assert result["successfulVersions"] == {}
    assert failed_codes(result) == {"1.0.0": "MISMATCHED_REVISION"}
    assert failed_message(result, "1.0.0") == (
        f"current revision: {revision}, expected revision: not-the-revision")
    assert version_statuses(client, domain, repo, "pkg") == {"1.0.0": "Published"}

    matched = update(client, domain, repo, ["1.0.0"], "Unlisted", versionRevisions={"1.0.0": revision})
    assert matched["successfulVersions"] == {"1.0.0": {"revision": revision, "status": "Unlisted"}}


def test_version_not_in_the_repository_is_not_found(client, domain, repo):
    publish_versions(client, domain, repo, "pkg", ["1.0.0"])
    result = update(client, domain, repo, ["7.7.7"], "Archived")
    assert result["successfulVersions"] == {}
    assert failed_codes(result) == {"7.7.7": "NOT_FOUND"}


BATCH_OPERATIONS = {
    "update": lambda client, domain, repo, versions: update(client, domain, repo, versions, "Archived"),
    "dispose": lambda client, domain, repo, versions: dispose(client, domain, repo, versions),
    "delete": lambda client, domain, repo, versions: delete(client, domain, repo, versions),
}


@pytest.mark.parametrize("operation", list(BATCH_OPERATIONS))
def test_batch_is_all_or_nothing(client, domain, repo, operation):
    revision = publish_versions(client, domain, repo, "pkg", ["1.0.0"])["1.0.0"]
    result = BATCH_OPERATIONS[operation](client, domain, repo, ["1.0.0", "9.9.9"])
    assert result["successfulVersions"] == {}
    assert failed_codes(result) == {"1.0.0": "SKIPPED", "9.9.9": "NOT_FOUND"}
    assert failed_message(result, "1.0.0")
    described = describe_version(client, domain, repo, "pkg", "1.0.0")
    assert (described["status"], described["revision"]) == ("Published", revision)
    assert [a["name"] for a in list_assets(client, domain, repo, "pkg", "1.0.0")] == ["1.0.0.txt"]


@pytest.mark.parametrize("operation", list(BATCH_OPERATIONS))
def test_more_than_100_versions_is_a_validation_error(client, domain, repo, operation):
    publish_versions(client, domain, repo, "pkg", ["1.0.0"])
    versions = ["1.0.0"] + [f"2.0.{i}" for i in range(100)]
    expect_error(client, "ValidationException", 400, BATCH_OPERATIONS[operation], client=client, domain=domain,
                 repo=repo, versions=versions)
    assert version_statuses(client, domain, repo, "pkg") == {"1.0.0": "Published"}


@pytest.mark.parametrize("operation", list(BATCH_OPERATIONS))
def test_batch_on_a_missing_package_reports_not_found_versions(client, domain, repo, operation):
    result = BATCH_OPERATIONS[operation](client, domain, repo, ["1.0.0"])
    assert result["successfulVersions"] == {}
    assert failed_codes(result) == {"1.0.0": "NOT_FOUND"}


# --------------------------------------------------------------------------- DisposePackageVersions


@pytest.mark.parametrize("start", ["Published", "Unfinished", "Unlisted", "Archived"])
def test_dispose_keeps_the_revision_and_drops_the_assets(client, domain, repo, start):
    published = publish(client, domain, repo, "pkg", "1.0.0", {"a.txt": b"a", "b.txt": b"b"},
                        unfinished=start == "Unfinished")
    if start not in ("Published", "Unfinished"):
        set_status(client, domain, repo, "pkg", "1.0.0", start)
    revision = published["versionRevision"]
    result = dispose(client, domain, repo, ["1.0.0"])
    assert result["successfulVersions"] == {"1.0.0": {"revision": revision, "status": "Disposed"}}
    described = describe_version(client, domain, repo, "pkg", "1.0.0")
    assert (described["status"], described["revision"]) == ("Disposed", revision)
    assert list_assets(client, domain, repo, "pkg", "1.0.0") == []
    expect_error(client, "ConflictException", 409, download, client=client, domain=domain, repo=repo,
                 package="pkg", version="1.0.0", asset="a.txt")


def test_disposing_a_disposed_version_again_succeeds(client, domain, repo):
    revision = publish_versions(client, domain, repo, "pkg", ["1.0.0"])["1.0.0"]
    dispose(client, domain, repo, ["1.0.0"])
    again = dispose(client, domain, repo, ["1.0.0"])
    assert again["successfulVersions"] == {"1.0.0": {"revision": revision, "status": "Disposed"}}
    assert not again.get("failedVersions")


def test_dispose_with_expected_status_and_revisions(client, domain, repo):
    revisions = publish_versions(client, domain, repo, "pkg", ["1.0.0", "2.0.0"])
    set_status(client, domain, repo, "pkg", "2.0.0", "Unlisted")

    mismatched = dispose(client, domain, repo, ["1.0.0"], expectedStatus="Unlisted")
    assert failed_codes(mismatched) == {"1.0.0": "MISMATCHED_STATUS"}
    assert failed_message(mismatched, "1.0.0") == "current status: Published, expected status: Unlisted"

    wrong_revision = dispose(client, domain, repo, ["2.0.0"], versionRevisions={"2.0.0": revisions["1.0.0"]})
    assert failed_codes(wrong_revision) == {"2.0.0": "MISMATCHED_REVISION"}
    assert version_statuses(client, domain, repo, "pkg") == {"1.0.0": "Published", "2.0.0": "Unlisted"}

    matched = dispose(client, domain, repo, ["2.0.0"], expectedStatus="Unlisted",
                      versionRevisions={"2.0.0": revisions["2.0.0"]})
    assert matched["successfulVersions"] == {"2.0.0": {"revision": revisions["2.0.0"], "status": "Disposed"}}


# --------------------------------------------------------------------------- DeletePackageVersions


@pytest.mark.parametrize("start", ["Published", "Unfinished", "Unlisted", "Archived", "Disposed"])
def test_delete_removes_the_version(client, domain, repo, start):
    publish(client, domain, repo, "pkg", "1.0.0", {"a.txt": b"a"}, unfinished=start == "Unfinished")
    publish_versions(client, domain, repo, "pkg", ["2.0.0"])
    if start not in ("Published", "Unfinished"):
        set_status(client, domain, repo, "pkg", "1.0.0", start)
    result = delete(client, domain, repo, ["1.0.0"])
    assert result["successfulVersions"]["1.0.0"]["status"] == "Deleted"
    assert not result.get("failedVersions")
    response = expect_error(client, "ResourceNotFoundException", 404, describe_version, client=client,
                            domain=domain, repo=repo, package="pkg", version="1.0.0")
    assert response["resourceType"] == "package-version"
    assert version_statuses(client, domain, repo, "pkg") == {"2.0.0": "Published"}


def test_deleted_version_can_be_published_again_from_scratch(client, domain, repo):
    first = publish(client, domain, repo, "pkg", "1.0.0", {"old.txt": b"old"})
    delete(client, domain, repo, ["1.0.0"])
    again = publish(client, domain, repo, "pkg", "1.0.0", {"new-1.txt": b"new", "new-2.txt": b"newer"})
    assert again["status"] == "Published"
    assert again["versionRevision"] != first["versionRevision"]
    assert [a["name"] for a in list_assets(client, domain, repo, "pkg", "1.0.0")] == ["new-1.txt", "new-2.txt"]
    expect_error(client, "ResourceNotFoundException", 404, download, client=client, domain=domain, repo=repo,
                 package="pkg", version="1.0.0", asset="old.txt")


def test_delete_with_expected_status_mismatch(client, domain, repo):
    publish_versions(client, domain, repo, "pkg", ["1.0.0"])
    result = delete(client, domain, repo, ["1.0.0"], expectedStatus="Unlisted")
    assert result["successfulVersions"] == {}
    assert failed_codes(result) == {"1.0.0": "MISMATCHED_STATUS"}
    assert failed_message(result, "1.0.0") == "current status: Published, expected status: Unlisted"
    assert version_statuses(client, domain, repo, "pkg") == {"1.0.0": "Published"}

    set_status(client, domain, repo, "pkg", "1.0.0", "Unlisted")
    matched = delete(client, domain, repo, ["1.0.0"], expectedStatus="Unlisted")
    assert matched["successfulVersions"]["1.0.0"]["status"] == "Deleted"


# --------------------------------------------------------------------------- DeletePackage


def test_delete_package_removes_the_package_and_every_version(client, domain, repo):
    publish_versions(client, domain, repo, "pkg", ["1.0.0", "2.0.0"])
    publish(client, domain, repo, "pkg", "3.0.0", {"a.txt": b"a"}, unfinished=True)
    publish_versions(client, domain, repo, "kept", ["1.0.0"])
    set_origin(client, domain, repo, "pkg", "ALLOW", "ALLOW")

    deleted = client.delete_package(**generic(domain, repo, "pkg"))["deletedPackage"]
    assert deleted == {"format": "generic", "namespace": NAMESPACE, "package": "pkg",
                       "originConfiguration": {"restrictions": restrictions("ALLOW", "ALLOW")}}

    expect_error(client, "ResourceNotFoundException", 404, client.describe_package, **generic(domain, repo, "pkg"))
    expect_error(client, "ResourceNotFoundException", 404, client.list_package_versions,
                 **generic(domain, repo, "pkg"))
    expect_error(client, "ResourceNotFoundException", 404, describe_version, client=client, domain=domain,
                 repo=repo, package="pkg", version="1.0.0")
    expect_error(client, "ResourceNotFoundException", 404, download, client=client, domain=domain, repo=repo,
                 package="pkg", version="1.0.0", asset="1.0.0.txt")
    assert list_package_names(client, domain, repo) == ["kept"]

    # the name is free again, with the default origin configuration of a published-first package
    publish_versions(client, domain, repo, "pkg", ["1.0.0"])
    package = client.describe_package(**generic(domain, repo, "pkg"))["package"]
    assert package["originConfiguration"]["restrictions"] == restrictions("ALLOW", "BLOCK")


def test_delete_missing_package_is_not_found(client, domain, repo):
    response = expect_error(client, "ResourceNotFoundException", 404, client.delete_package,
                            **generic(domain, repo, "never-published"))
    assert response["resourceType"] == "package"


# --------------------------------------------------------------------------- dedup and garbage sweep


def test_assets_are_stored_once_per_domain_and_swept_when_unreferenced(server, client, domain):
    client.create_repository(domain=domain, repository="repo-a")
    client.create_repository(domain=domain, repository="repo-b")
    content = os.urandom(4096)
    blob_name = sha256_hex(content)

    run_gc(server)  # whatever earlier tests left unreferenced is gone before counting
    baseline = len(blob_files(server.data_dir))

    publish(client, domain, "repo-a", "pkg", "1.0.0", {"x.bin": content})
    publish(client, domain, "repo-b", "other", "2.0.0", {"y.bin": content})
    assert asset_size_bytes(client, domain) == len(content), "the same bytes in two repositories count once"
    files = blob_files(server.data_dir)
    assert len(files) == baseline + 1, "the same bytes are stored once"
    assert [f.name for f in files].count(blob_name) == 1

    dispose(client, domain, "repo-a", ["1.0.0"])
    assert run_gc(server) == 0, "repo-b still references the blob"
    assert [f.name for f in blob_files(server.data_dir)].count(blob_name) == 1
    body, _ = download(client, domain, "repo-b", "other", "2.0.0", "y.bin")
    assert body == content
    assert asset_size_bytes(client, domain) == len(content)

    dispose(client, domain, "repo-b", ["2.0.0"], package="other")
    assert run_gc(server) == 1
    remaining = blob_files(server.data_dir)
    assert blob_name not in [f.name for f in remaining]
    assert len(remaining) == baseline
    assert asset_size_bytes(client, domain) == 0
