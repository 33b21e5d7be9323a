"""CopyPackageVersions through boto3 and the aws CLI (spec/digest.md §3): metadata-only copies,
the all-or-nothing result maps, identical/differing versions already in the destination,
revisions, statuses, upstream lookup, origin controls, and concurrent copies into one repository."""

from __future__ import annotations

import random
import threading

import pytest
from botocore.exceptions import ClientError

from support import (
    NAMESPACE,
    asset_size_bytes,
    describe_version,
    download,
    expect_error,
    failed_codes,
    list_assets,
    list_package_names,
    list_versions,
    make_client,
    publish,
    publish_versions,
    restrictions,
    set_origin,
    set_status,
    stored_versions,
    unique,
    version_content,
)


@pytest.fixture
def repos(client, domain):
    """`domain` with empty repositories `staging` and `release`."""
    client.create_repository(domain=domain, repository="staging")
    client.create_repository(domain=domain, repository="release")
    return domain


def copy(client, domain, versions=None, source="staging", destination="release", package="pkg",
         namespace=NAMESPACE, package_format="generic", **kwargs):
    """CopyPackageVersions of a generic package; `versions` is sent only when not None."""
    if versions is not None:
        kwargs["versions"] = versions
    if namespace is not None:
        kwargs["namespace"] = namespace
    return client.copy_package_versions(domain=domain, sourceRepository=source, destinationRepository=destination,
                                        format=package_format, package=package, **kwargs)


def stored(client, domain, repo, package="pkg") -> dict[str, tuple[str, str]]:
    return stored_versions(client, domain, repo, package)


def internal_origin(repository: str) -> dict:
    return {"domainEntryPoint": {"repositoryName": repository}, "originType": "INTERNAL"}


def assert_nothing_written(client, domain, repo="release"):
    assert list_package_names(client, domain, repo) == [], "a failed copy created the destination package"


# --------------------------------------------------------------------------- the basic copy


def test_copy_two_versions(client, repos):
    domain = repos
    first = publish(client, domain, "staging", "pkg", "1.0.0", {"lib.bin": b"\x00" * 3000, "notes.txt": b"n"})
    second = publish(client, domain, "staging", "pkg", "1.0.1", {"lib.bin": b"\x01" * 3000})
    size_before = asset_size_bytes(client, domain)

    result = copy(client, domain, ["1.0.0", "1.0.1"])
    assert result["successfulVersions"] == {
        "1.0.0": {"revision": first["versionRevision"], "status": "Published"},
        "1.0.1": {"revision": second["versionRevision"], "status": "Published"},
    }
    assert not result.get("failedVersions")

    for version in ("1.0.0", "1.0.1"):
        source = describe_version(client, domain, "staging", "pkg", version)
        copied = describe_version(client, domain, "release", "pkg", version)
        assert copied["revision"] == source["revision"]
        assert copied["status"] == "Published"
        assert copied["origin"] == internal_origin("staging"), "the origin is where the version entered the domain"
        assert list_assets(client, domain, "release", "pkg", version) == list_assets(
            client, domain, "staging", "pkg", version)
        for asset in list_assets(client, domain, "staging", "pkg", version):
            original, _ = download(client, domain, "staging", "pkg", version, asset["name"])
            body, response = download(client, domain, "release", "pkg", version, asset["name"])
            assert body == original
            assert response["packageVersionRevision"] == source["revision"]
    assert asset_size_bytes(client, domain) == size_before, "a copy moves metadata, not bytes"


def test_copy_with_a_version_missing_from_the_source_copies_nothing(client, repos):
    domain = repos
    publish_versions(client, domain, "staging", "pkg", ["0.2.0"])
    result = copy(client, domain, ["0.2.0", "5.6.7"])
    assert result["successfulVersions"] == {}
    assert failed_codes(result) == {"0.2.0": "SKIPPED", "5.6.7": "NOT_FOUND"}
    assert result["failedVersions"]["0.2.0"]["errorMessage"] == "Version 0.2.0 was skipped"
    assert result["failedVersions"]["5.6.7"]["errorMessage"]
    assert_nothing_written(client, domain)


def test_identical_version_already_in_the_destination_is_a_silent_success(client, repos):
    domain = repos
    revisions = publish_versions(client, domain, "staging", "pkg", ["0.2.0", "0.2.1"])
    copy(client, domain, ["0.2.1"])

    again = copy(client, domain, ["0.2.1"])
    assert again["successfulVersions"] == {}
    assert not again.get("failedVersions")

    mixed = copy(client, domain, ["0.2.1", "0.2.0"])
    assert mixed["successfulVersions"] == {"0.2.0": {"revision": revisions["0.2.0"], "status": "Published"}}
    assert not mixed.get("failedVersions")
    assert stored(client, domain, "release") == {v: ("Published", r) for v, r in revisions.items()}


def test_differing_version_in_the_destination_is_already_exists_unless_overwritten(client, repos):
    domain = repos
    source = publish(client, domain, "staging", "pkg", "0.3.2", {"a.txt": b"from staging", "b.txt": b"b"})
    set_status(client, domain, "staging", "pkg", "0.3.2", "Unlisted")
    publish_versions(client, domain, "staging", "pkg", ["0.2.1"])
    local = publish(client, domain, "release", "pkg", "0.3.2", {"a.txt": b"from release", "only-here.txt": b"x"})

    refused = copy(client, domain, ["0.3.2", "0.2.1"])
    assert refused["successfulVersions"] == {}
    assert failed_codes(refused) == {"0.3.2": "ALREADY_EXISTS", "0.2.1": "SKIPPED"}
    assert refused["failedVersions"]["0.3.2"]["errorMessage"]
    assert stored(client, domain, "release") == {"0.3.2": ("Published", local["versionRevision"])}

    overwritten = copy(client, domain, ["0.3.2"], allowOverwrite=True)
    assert overwritten["successfulVersions"] == {"0.3.2": {"revision": source["versionRevision"], "status": "Unlisted"}}
    assert stored(client, domain, "release") == {"0.3.2": ("Unlisted", source["versionRevision"])}
    assert [a["name"] for a in list_assets(client, domain, "release", "pkg", "0.3.2")] == ["a.txt", "b.txt"]
    body, _ = download(client, domain, "release", "pkg", "0.3.2", "a.txt")
    assert body == b"from staging"


# --------------------------------------------------------------------------- versionRevisions


def test_copy_by_version_revisions(client, repos):
    domain = repos
    revisions = publish_versions(client, domain, "staging", "pkg", ["0.3.2", "0.3.13"])
    result = copy(client, domain, versionRevisions=revisions)
    assert result["successfulVersions"] == {v: {"revision": r, "status": "Published"} for v, r in revisions.items()}
    assert stored(client, domain, "release") == {v: ("Published", r) for v, r in revisions.items()}


def test_copy_with_a_mismatched_revision_copies_nothing(client, repos):
    domain = repos
    revisions = publish_versions(client, domain, "staging", "pkg", ["0.3.2", "0.3.13", "0.4.0"])
    wanted = dict(revisions, **{"0.3.13": revisions["0.3.2"]})
    result = copy(client, domain, versionRevisions=wanted)
    assert result["successfulVersions"] == {}
    assert failed_codes(result) == {"0.3.2": "SKIPPED", "0.3.13": "MISMATCHED_REVISION", "0.4.0": "SKIPPED"}
    assert_nothing_written(client, domain)


@pytest.mark.parametrize("which", ["both", "neither"])
def test_versions_and_version_revisions_are_exclusive_and_one_is_required(client, repos, which):
    domain = repos
    revisions = publish_versions(client, domain, "staging", "pkg", ["1.0.0"])
    kwargs = {"versions": ["1.0.0"], "versionRevisions": revisions} if which == "both" else {}
    expect_error(client, "ValidationException", 400, copy, client=client, domain=domain, **kwargs)
    assert_nothing_written(client, domain)


def test_more_than_100_versions_is_a_validation_error(client, repos):
    domain = repos
    publish_versions(client, domain, "staging", "pkg", ["1.0.0"])
    expect_error(client, "ValidationException", 400, copy, client=client, domain=domain,
                 versions=["1.0.0"] + [f"2.0.{i}" for i in range(100)])
    assert_nothing_written(client, domain)


def test_more_than_100_version_revisions_is_a_validation_error(client, repos):
    domain = repos
    revision = publish_versions(client, domain, "staging", "pkg", ["1.0.0"])["1.0.0"]
    many = {"1.0.0": revision, **{f"2.0.{i}": revision for i in range(100)}}
    expect_error(client, "ValidationException", 400, copy, client=client, domain=domain, versionRevisions=many)
    assert_nothing_written(client, domain)


# --------------------------------------------------------------------------- statuses


@pytest.mark.parametrize("status", ["Published", "Unlisted", "Archived"])
def test_copyable_statuses_keep_their_status(client, repos, status):
    domain = repos
    revision = publish_versions(client, domain, "staging", "pkg", ["1.0.0"])["1.0.0"]
    if status != "Published":
        set_status(client, domain, "staging", "pkg", "1.0.0", status)
    result = copy(client, domain, ["1.0.0"])
    assert result["successfulVersions"] == {"1.0.0": {"revision": revision, "status": status}}
    assert stored(client, domain, "release") == {"1.0.0": (status, revision)}


@pytest.mark.parametrize("status, code", [("Unfinished", "NOT_ALLOWED"), ("Disposed", "NOT_ALLOWED"),
                                          ("Deleted", "NOT_FOUND")])
def test_statuses_that_cannot_be_copied(client, repos, status, code):
    domain = repos
    publish_versions(client, domain, "staging", "pkg", ["2.0.0"])
    publish(client, domain, "staging", "pkg", "1.0.0", {"a.txt": b"a"}, unfinished=status == "Unfinished")
    if status != "Unfinished":
        set_status(client, domain, "staging", "pkg", "1.0.0", status)
    result = copy(client, domain, ["1.0.0", "2.0.0"])
    assert result["successfulVersions"] == {}
    assert failed_codes(result) == {"1.0.0": code, "2.0.0": "SKIPPED"}
    assert result["failedVersions"]["1.0.0"]["errorMessage"]
    assert_nothing_written(client, domain)


def test_package_absent_from_the_source_is_not_found_per_version(client, repos):
    domain = repos
    result = copy(client, domain, ["1.0.0", "2.0.0"], package="nowhere")
    assert result["successfulVersions"] == {}
    assert failed_codes(result) == {"1.0.0": "NOT_FOUND", "2.0.0": "NOT_FOUND"}
    assert_nothing_written(client, domain)


# --------------------------------------------------------------------------- request errors


def test_copy_into_the_source_repository_is_a_validation_error(client, repos):
    domain = repos
    publish_versions(client, domain, "staging", "pkg", ["1.0.0"])
    expect_error(client, "ValidationException", 400, copy, client=client, domain=domain, versions=["1.0.0"],
                 destination="staging")


@pytest.mark.parametrize("side", ["source", "destination"])
def test_missing_repository_is_not_found(client, repos, side):
    domain = repos
    publish_versions(client, domain, "staging", "pkg", ["1.0.0"])
    response = expect_error(client, "ResourceNotFoundException", 404, copy, client=client, domain=domain,
                            versions=["1.0.0"], **{side: "no-such-repo"})
    assert response["resourceType"] == "repository"


def test_missing_domain_is_not_found(client):
    response = expect_error(client, "ResourceNotFoundException", 404, copy, client=client,
                            domain=unique("missing"), versions=["1.0.0"])
    assert response["resourceType"] == "domain"


@pytest.mark.parametrize("package_format", ["maven", "swift", "generic"])
def test_format_that_needs_a_namespace_without_one_is_a_validation_error(client, repos, package_format):
    expect_error(client, "ValidationException", 400, copy, client=client, domain=repos, versions=["1.0.0"],
                 namespace=None, package_format=package_format)


# --------------------------------------------------------------------------- upstreams


def test_include_from_upstream_searches_depth_first_and_first_hit_wins(client, domain):
    # src -> [up-1, side], up-1 -> [up-2]: search order src, up-1, up-2, side
    client.create_repository(domain=domain, repository="up-2")
    client.create_repository(domain=domain, repository="up-1", upstreams=[{"repositoryName": "up-2"}])
    client.create_repository(domain=domain, repository="side")
    client.create_repository(domain=domain, repository="src",
                             upstreams=[{"repositoryName": "up-1"}, {"repositoryName": "side"}])
    client.create_repository(domain=domain, repository="dst")

    def put(repo, version):
        return publish(client, domain, repo, "pkg", version, {"a.txt": f"{repo} {version}".encode()})["versionRevision"]

    expected = {
        "1.0.0": (put("up-2", "1.0.0"), "up-2"),  # only in up-2
        "2.0.0": (put("up-1", "2.0.0"), "up-1"),  # up-1 before up-2
        "3.0.0": (put("up-2", "3.0.0"), "up-2"),  # up-2 (depth first) before side
        "4.0.0": (put("src", "4.0.0"), "src"),  # the source itself first
    }
    put("up-2", "2.0.0")
    put("side", "3.0.0")
    put("up-1", "4.0.0")

    without = copy(client, domain, ["1.0.0", "4.0.0"], source="src", destination="dst")
    assert failed_codes(without) == {"1.0.0": "NOT_FOUND", "4.0.0": "SKIPPED"}
    assert_nothing_written(client, domain, "dst")

    result = copy(client, domain, list(expected), source="src", destination="dst", includeFromUpstream=True)
    assert result["successfulVersions"] == {v: {"revision": r, "status": "Published"}
                                            for v, (r, _) in expected.items()}
    assert not result.get("failedVersions")
    for version, (revision, first_published_in) in expected.items():
        copied = describe_version(client, domain, "dst", "pkg", version)
        assert copied["revision"] == revision
        assert copied["origin"] == internal_origin(first_published_in)
        body, _ = download(client, domain, "dst", "pkg", version, "a.txt")
        assert body == f"{first_published_in} {version}".encode()
    # found through the upstreams, copied straight to the destination: nothing retained in src
    assert list(stored(client, domain, "src")) == ["4.0.0"]


# --------------------------------------------------------------------------- origin controls


def test_origin_controls_of_the_destination_do_not_gate_a_copy(client, repos):
    domain = repos
    revision = publish_versions(client, domain, "staging", "pkg", ["1.0.0"])["1.0.0"]
    set_origin(client, domain, "release", "pkg", "BLOCK", "BLOCK")
    result = copy(client, domain, ["1.0.0"])
    assert result["successfulVersions"] == {"1.0.0": {"revision": revision, "status": "Published"}}
    package = client.describe_package(domain=domain, repository="release", format="generic", namespace=NAMESPACE,
                                      package="pkg")["package"]
    assert package["originConfiguration"]["restrictions"] == restrictions("BLOCK", "BLOCK"), \
        "an existing destination package keeps its own origin configuration"


def test_copy_that_creates_the_destination_package_copies_its_origin_configuration(client, repos):
    domain = repos
    publish_versions(client, domain, "staging", "pkg", ["1.0.0"])
    set_origin(client, domain, "staging", "pkg", "ALLOW", "ALLOW")
    copy(client, domain, ["1.0.0"])
    package = client.describe_package(domain=domain, repository="release", format="generic", namespace=NAMESPACE,
                                      package="pkg")["package"]
    assert package["originConfiguration"]["restrictions"] == restrictions("ALLOW", "ALLOW")


# --------------------------------------------------------------------------- concurrency


def test_concurrent_overlapping_copies_into_one_repository(server, client, repos):
    domain = repos
    pool = [f"1.0.{i}" for i in range(10)]
    revisions = publish_versions(client, domain, "staging", "pkg", pool)
    threads_count, copies_per_thread = 8, 5
    clients = [make_client(server.url) for _ in range(threads_count)]
    barrier = threading.Barrier(threads_count)
    results: list[tuple[list[str], dict]] = []
    conflicts: list[list[str]] = []
    unexpected: list[str] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        rng = random.Random(index)
        own = clients[index]
        barrier.wait()
        for _ in range(copies_per_thread):
            versions = rng.sample(pool, rng.randint(1, 5))
            try:
                result = copy(own, domain, versions, allowOverwrite=rng.random() < 0.5)
            except ClientError as error:
                code = error.response["Error"]["Code"]
                status = error.response["ResponseMetadata"]["HTTPStatusCode"]
                with lock:
                    if (code, status) == ("ConflictException", 409):
                        conflicts.append(versions)
                    else:
                        unexpected.append(f"{versions}: {code} {status} {error}")
            except Exception as error:  # noqa: BLE001 - any other failure is reported below
                with lock:
                    unexpected.append(f"{versions}: {type(error).__name__}: {error}")
            else:
                with lock:
                    results.append((versions, result))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a copy never returned"
    assert not unexpected, unexpected
    assert len(results) + len(conflicts) == threads_count * copies_per_thread
    assert results, "every copy was refused"

    copied: set[str] = set()
    for versions, result in results:
        # every copy has the same content, so nothing can differ: a 200 never reports a failure
        assert not result.get("failedVersions"), (versions, result)
        for version, info in result["successfulVersions"].items():
            assert version in versions
            assert info == {"revision": revisions[version], "status": "Published"}
        copied |= set(result["successfulVersions"])

    listed = list_versions(client, domain, "release", "pkg")
    names = [v["version"] for v in listed]
    assert len(names) == len(set(names)), f"a version is listed twice: {names}"
    assert set(names) == copied
    assert set(names) >= {v for versions, _ in results for v in versions}
    for item in listed:
        assert (item["status"], item["revision"]) == ("Published", revisions[item["version"]])


# --------------------------------------------------------------------------- aws CLI


def test_cli_copy_package_versions(aws, client, repos):
    domain = repos
    revisions = publish_versions(client, domain, "staging", "pkg", ["1.0.0", "1.0.1"])
    result = aws("codeartifact", "copy-package-versions", "--domain", domain, "--source-repository", "staging",
                 "--destination-repository", "release", "--format", "generic", "--namespace", NAMESPACE,
                 "--package", "pkg", "--versions", "1.0.0", "1.0.1")
    assert result["successfulVersions"] == {v: {"revision": r, "status": "Published"} for v, r in revisions.items()}
    assert not result.get("failedVersions")
    body, _ = download(client, domain, "release", "pkg", "1.0.1", "1.0.1.txt")
    assert body == version_content("pkg", "1.0.1")
