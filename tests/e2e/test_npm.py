"""The npm endpoint driven by the real `npm` client (npm 11) and plain HTTP, checked through boto3:
publish/install (plain and scoped), `npm view`, version metadata and dependencies, conflicts,
dist-tags, deprecate, unpublish, upstream chains and origin controls, the `public:npmjs` external
connection (another Reliquary standing in for the public registry), copies carrying dist-tags,
token refusals, hidden statuses and `aws codeartifact login --tool npm`.

The endpoint is `GetRepositoryEndpoint(format='npm')` = `<server>/npm/d/<domain>-<owner>/<repo>/`.
Every npm run is hermetic (npm_support.Npm: its own user config with the `_authToken` line, a fresh
cache, no audit/fund/update-notifier): installs always reach the server. Package names are fixed;
each test has its own domain, so they never collide."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import random
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from support import running_server_with_env
from npm_support import (
    ABBREVIATED,
    ABBREVIATED_ACCEPT,
    AwsCliWithEnv,
    Npm,
    assert_npm_error,
    auth_token,
    bearer,
    describe_npm_version,
    dist_tags_url,
    error_code_in,
    hermetic_npm_env,
    http_get,
    installed_manifest,
    installed_version,
    integrity,
    make_tarball,
    nerf_dart,
    new_project,
    npm_asset,
    npm_dependencies,
    npm_endpoint,
    npm_origin_restrictions,
    npm_package,
    npm_versions_in,
    packument_url,
    publish_document,
    put_publish,
    set_npm_origin,
    set_npm_status,
    shasum,
    tarball_url,
    wait_until,
    write_package,
)
from support import BACKENDS, blob_files, expect_error, make_client, running_server, stop_cleanly, unique

SCOPED = "@acme/widget"
MAX_SKELETON_BYTES = 32 * 1024 * 1024  # a publish body but its attachments' data (npm::stream)
DEFAULT = object()  # npm_for: a fresh token of the domain


def npm_for(client, domain: str, repository: str, home: Path, token=DEFAULT) -> Npm:
    """A hermetic npm for `repository` (fresh cache under `home`) with a token of `domain`."""
    endpoint = npm_endpoint(client, domain, repository)
    return Npm(endpoint, auth_token(client, domain) if token is DEFAULT else token, home)


def internal_origin(repository: str) -> dict:
    return {"domainEntryPoint": {"repositoryName": repository}, "originType": "INTERNAL"}


def external_origin(connection: str = "public:npmjs") -> dict:
    return {"domainEntryPoint": {"externalConnectionName": connection}, "originType": "EXTERNAL"}


def as_list(value) -> list:
    """`npm view x versions --json` prints a string for one version and a list for several."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def retained(client, domain: str, repository: str, name: str) -> dict[str, str]:
    """{version: status} of `name` in `repository` once something is there (retention may trail
    the download by a moment)."""
    return wait_until(lambda: npm_versions_in(client, domain, repository, name)) or {}


@pytest.fixture
def registry(client, domain, tmp_path) -> Npm:
    """A repository `repo` in `domain` and a hermetic npm for it."""
    client.create_repository(domain=domain, repository="repo")
    return npm_for(client, domain, "repo", tmp_path / "npm")


# --------------------------------------------------------------------------- publish and install


def test_publish_and_install_plain_and_scoped(client, domain, registry, tmp_path):
    registry.publish_new(tmp_path, "demo", "1.0.0", description="plain")
    scoped = registry.publish_new(tmp_path, SCOPED, "1.0.0", "--access", "public", description="scoped")

    project = new_project(tmp_path)
    registry.install(project, "demo@1.0.0", f"{SCOPED}@1.0.0")
    assert installed_version(project, "demo") == "1.0.0"
    assert installed_version(project, SCOPED) == "1.0.0"
    assert (project / "node_modules" / "@acme" / "widget" / "index.js").read_text() == \
        (scoped / "index.js").read_text()

    lock = json.loads((project / "package-lock.json").read_text())
    listed = client.list_packages(domain=domain, repository="repo", format="npm")["packages"]
    assert sorted((p.get("namespace", ""), p["package"]) for p in listed) == [("", "demo"), ("acme", "widget")]
    for name in ("demo", SCOPED):
        assert npm_versions_in(client, domain, "repo", name) == {"1.0.0": "Published"}
        assets = client.list_package_version_assets(**npm_package(domain, "repo", name),
                                                    packageVersion="1.0.0")["assets"]
        assert [a["name"] for a in assets] == ["package.tgz"]
        tgz = npm_asset(client, domain, "repo", name, "1.0.0")
        assert assets[0]["size"] == len(tgz)
        entry = lock["packages"][f"node_modules/{name}"]
        assert entry["resolved"] == tarball_url(registry.registry, name, "1.0.0")
        assert entry["integrity"] == integrity(tgz)
        direct = http_get(tarball_url(registry.registry, name, "1.0.0"), registry.token)
        assert direct.status_code == 200 and direct.content == tgz


def test_npm_view_shows_the_published_metadata(client, domain, registry, tmp_path):
    fields = dict(description="A demo package", license="MIT", homepage="https://example.com/demo",
                  keywords=["demo", "e2e"], repository={"type": "git", "url": "https://example.com/acme/demo.git"})
    registry.publish_new(tmp_path, "demo", "1.0.0", **fields)
    registry.publish_new(tmp_path, "demo", "1.1.0", **fields)

    doc = registry.view("demo")
    assert doc["name"] == "demo"
    assert doc["version"] == "1.1.0"
    assert doc["versions"] == ["1.0.0", "1.1.0"]
    assert doc["dist-tags"] == {"latest": "1.1.0"}
    for key in ("description", "license", "homepage", "keywords"):
        assert doc[key] == fields[key], key
    assert "example.com/acme/demo" in doc["repository"]["url"]
    tgz = npm_asset(client, domain, "repo", "demo", "1.1.0")
    assert doc["dist"]["integrity"] == integrity(tgz)
    assert doc["dist"]["shasum"] == shasum(tgz)
    assert doc["dist"]["tarball"] == tarball_url(registry.registry, "demo", "1.1.0")
    assert registry.view("demo@1.0.0", "version") == "1.0.0"
    assert registry.view("demo@^1.0.0", "version") == ["1.0.0", "1.1.0"]


def test_describe_and_dependencies_of_a_published_version(client, domain, registry, tmp_path):
    registry.publish_new(
        tmp_path, SCOPED, "2.0.0", "--access", "public",
        description="Widgets for everyone", license="Apache-2.0", homepage="https://example.com/widget",
        repository={"type": "git", "url": "https://example.com/acme/widget.git"},
        dependencies={"left-pad": "^1.3.0", "@acme/util": "~2.0.0"},
        devDependencies={"dev-tool": "1.x"},
        peerDependencies={"peer-lib": ">=3"},
        optionalDependencies={"opt-lib": "*"},
    )
    described = describe_npm_version(client, domain, "repo", SCOPED, "2.0.0")
    assert described["format"] == "npm"
    assert described["namespace"] == "acme"
    assert described["packageName"] == "widget"
    assert described["displayName"] == "@acme/widget"
    assert described["version"] == "2.0.0"
    assert described["status"] == "Published"
    assert described["summary"] == "Widgets for everyone"
    assert described["homePage"] == "https://example.com/widget"
    assert described["sourceCodeRepository"] == registry.view(f"{SCOPED}@2.0.0", "repository.url")
    assert "example.com/acme/widget" in described["sourceCodeRepository"]
    assert [lic["name"] for lic in described["licenses"]] == ["Apache-2.0"]
    assert described["origin"] == internal_origin("repo")

    found = sorted((d.get("namespace", ""), d["package"], d["dependencyType"], d["versionRequirement"])
                   for d in npm_dependencies(client, domain, "repo", SCOPED, "2.0.0"))
    assert found == sorted([
        ("", "left-pad", "regular", "^1.3.0"),
        ("acme", "util", "regular", "~2.0.0"),
        ("", "dev-tool", "dev", "1.x"),
        ("", "peer-lib", "peer", ">=3"),
        ("", "opt-lib", "optional", "*"),
    ])
    # a package first published directly: publish ALLOW, upstream BLOCK (digest §4.5)
    assert npm_origin_restrictions(client, domain, "repo", SCOPED) == {"publish": "ALLOW", "upstream": "BLOCK"}


def test_republishing_a_version_is_a_conflict(client, domain, registry, tmp_path):
    folder = registry.publish_new(tmp_path, "demo", "1.0.0")
    before = npm_asset(client, domain, "repo", "demo", "1.0.0")
    (folder / "index.js").write_text("module.exports = 'different';\n")
    # --force skips npm's own "cannot publish over" check, so the PUT reaches the server
    refused = registry.fails("publish", "--force", cwd=folder)
    assert error_code_in(refused.output, "E409", "EPUBLISHCONFLICT"), refused.output
    tgz, manifest = make_tarball("demo", "1.0.0", body="module.exports = 'other';\n")
    assert_npm_error(put_publish(registry.registry, registry.token, manifest, tgz), 409)
    assert npm_versions_in(client, domain, "repo", "demo") == {"1.0.0": "Published"}
    assert npm_asset(client, domain, "repo", "demo", "1.0.0") == before


def test_publish_whose_tarball_does_not_match_is_refused(client, domain, registry):
    tgz, manifest = make_tarball("demo", "1.0.0")
    # integrity of other bytes
    other, _ = make_tarball("demo", "1.0.0", body="module.exports = 1;\n")
    body = publish_document(registry.registry, manifest, tgz)
    body["versions"]["1.0.0"]["dist"]["integrity"] = integrity(other)
    body["versions"]["1.0.0"]["dist"]["shasum"] = shasum(other)
    response = requests.put(packument_url(registry.registry, "demo"), json=body, headers=bearer(registry.token),
                            timeout=30)
    assert_npm_error(response, 400)
    # the tarball's package.json names another version
    wrong, wrong_manifest = make_tarball("demo", "9.9.9")
    response = requests.put(packument_url(registry.registry, "demo"), headers=bearer(registry.token), timeout=30,
                            json=publish_document(registry.registry, dict(wrong_manifest, version="1.0.0"), wrong))
    assert_npm_error(response, 400)
    assert npm_versions_in(client, domain, "repo", "demo") == {}


def staged_files(server) -> list[Path]:
    """Uploads in the blob store's staging area: none once every request has been answered."""
    staging = server.data_dir / "blobs" / "staging"
    return sorted(p for p in staging.rglob("*") if p.is_file()) if staging.exists() else []


def test_a_20_mib_package_publishes_and_installs(client, domain, registry, tmp_path):
    """The body npm sends for it (27 MiB of JSON, the tarball base64 in it) streams into the blob
    store as it arrives; the tarball comes back byte for byte."""
    folder = write_package(tmp_path, "big", "1.0.0")
    content = random.Random(20).randbytes(20 * 1024 * 1024)
    (folder / "big.bin").write_bytes(content)
    registry.publish(folder)

    tgz = npm_asset(client, domain, "repo", "big", "1.0.0")
    assert len(tgz) > len(content)
    assert registry.view("big@1.0.0", "dist.integrity") == integrity(tgz)
    project = new_project(tmp_path)
    registry.install(project, "big@1.0.0")
    assert installed_version(project, "big") == "1.0.0"
    installed = (project / "node_modules" / "big" / "big.bin").read_bytes()
    assert hashlib.sha256(installed).digest() == hashlib.sha256(content).digest()


def test_publish_bodies_are_read_as_they_stream(client, domain, registry):
    """A body sent in small chunks (chunked transfer encoding), its base64 line-wrapped with
    escaped line breaks and `\\/` escapes (valid JSON for the same string), publishes the same
    tarball."""
    tgz, manifest = make_tarball("demo", "1.0.0", body=random.Random(7).randbytes(3000).hex())
    document = publish_document(registry.registry, manifest, tgz)
    (attachment,) = document["_attachments"].values()
    encoded = attachment["data"]
    assert "/" in encoded
    attachment["data"] = "@@DATA@@"
    wrapped = "\\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76)).replace("/", "\\/")
    body = json.dumps(document).replace("@@DATA@@", wrapped).encode()
    response = requests.put(packument_url(registry.registry, "demo"), timeout=60,
                            data=(body[i:i + 5] for i in range(0, len(body), 5)),
                            headers={"Content-Type": "application/json", **bearer(registry.token)})
    assert response.status_code in (200, 201), response.text
    assert npm_asset(client, domain, "repo", "demo", "1.0.0") == tgz


def test_refused_publish_bodies_leave_nothing_stored(server, client, domain, registry):
    """Attachments stream into staging before the document is checked: whatever refuses the
    publish (its body, its document, its tarball, a conflict) discards them."""
    endpoint, token = registry.registry, registry.token
    url = packument_url(endpoint, "demo")
    tgz, manifest = make_tarball("demo", "1.0.0")
    document = publish_document(endpoint, manifest, tgz)
    (file,) = document["_attachments"]

    def put(body: bytes) -> requests.Response:
        return requests.put(url, data=body, timeout=60,
                            headers={"Content-Type": "application/json", **bearer(token)})

    def edited(edit) -> bytes:
        copy = json.loads(json.dumps(document))
        edit(copy)
        return json.dumps(copy).encode()

    def with_readme(skeleton_bytes: int) -> bytes:
        """The document with a readme making its skeleton (the body but the data) that long."""
        data = len(document["_attachments"][file]["data"])
        bare = len(edited(lambda d: d.update(readme=""))) - data
        return edited(lambda d: d.update(readme="x" * (skeleton_bytes - bare)))

    before = blob_files(server.data_dir)
    refused = {
        "data not base64": (400, edited(lambda d: d["_attachments"][file].update(data="@@" + d["_attachments"][file]["data"]))),
        "data with an escaped quote": (400, json.dumps(document).replace('"data": "', '"data": "\\"').encode()),
        "more than 4 attachments": (400, edited(lambda d: d["_attachments"].update(
            {f"demo-0.0.{i}.tgz": d["_attachments"][file] for i in range(4)}))),
        "a body ending inside the data": (400, json.dumps(document).encode().partition(b'"data": "')[0] + b'"data": "H4sI'),
        "no name": (400, edited(lambda d: d.pop("name"))),
        "another package's document": (400, edited(lambda d: d.update(name="other"))),
        "wrong shasum": (400, edited(lambda d: d["versions"]["1.0.0"]["dist"].update(shasum="0" * 40))),
        "wrong length": (400, edited(lambda d: d["_attachments"][file].update(length=1))),
        # (the bound is passed at the body's last byte: the server has read it all when it answers)
        "a document over 32 MiB": (413, with_readme(MAX_SKELETON_BYTES + 1)),
    }
    for what, (status, body) in refused.items():
        response = put(body)
        assert response.status_code == status, (what, response.text[:300])
        assert_npm_error(response, status)
        assert staged_files(server) == [], what
    assert npm_versions_in(client, domain, "repo", "demo") == {}
    assert blob_files(server.data_dir) == before

    accepted = put(with_readme(MAX_SKELETON_BYTES))
    assert accepted.status_code in (200, 201), accepted.text
    published = blob_files(server.data_dir)
    other, _ = make_tarball("demo", "1.0.0", body="module.exports = 'other';\n")
    assert_npm_error(put(json.dumps(publish_document(endpoint, manifest, other)).encode()), 409)
    assert staged_files(server) == []
    assert blob_files(server.data_dir) == published
    assert npm_asset(client, domain, "repo", "demo", "1.0.0") == tgz


# --------------------------------------------------------------------------- packuments over HTTP and auth


def test_packuments_full_and_abbreviated(client, domain, registry):
    endpoint, token = registry.registry, registry.token
    for name in ("demo", SCOPED):
        tgz, manifest = make_tarball(name, "1.0.0", {"description": f"about {name}"})
        assert put_publish(endpoint, token, manifest, tgz).status_code in (200, 201)

        full = http_get(packument_url(endpoint, name), token, accept="application/json")
        assert full.status_code == 200, full.text
        assert full.headers["Content-Type"].startswith("application/json")
        doc = full.json()
        assert doc["name"] == name
        assert doc["dist-tags"] == {"latest": "1.0.0"}
        assert doc["versions"]["1.0.0"]["description"] == f"about {name}"
        dist = doc["versions"]["1.0.0"]["dist"]
        assert dist["integrity"] == integrity(tgz) and dist["shasum"] == shasum(tgz)
        assert dist["tarball"] == tarball_url(endpoint, name, "1.0.0")

        abbreviated = http_get(packument_url(endpoint, name), token, accept=ABBREVIATED_ACCEPT)
        assert abbreviated.status_code == 200
        assert abbreviated.headers["Content-Type"].startswith(ABBREVIATED)
        short = abbreviated.json()
        assert short["name"] == name and short["dist-tags"] == {"latest": "1.0.0"}
        assert "description" not in short["versions"]["1.0.0"]
        assert short["versions"]["1.0.0"]["dist"]["integrity"] == integrity(tgz)

        tarball = http_get(dist["tarball"], token)
        assert tarball.status_code == 200 and tarball.content == tgz
        assert_npm_error(http_get(tarball_url(endpoint, name, "9.9.9"), token), 404)
        assert npm_asset(client, domain, "repo", name, "1.0.0") == tgz
    assert_npm_error(http_get(packument_url(endpoint, "no-such-package"), token), 404)


def test_packuments_carry_an_etag_and_answer_304_when_unchanged(registry):
    """npm revalidates its cached packuments with If-None-Match on every install (compatibility N19)."""
    endpoint, token = registry.registry, registry.token
    tgz, manifest = make_tarball("cached", "1.0.0")
    assert put_publish(endpoint, token, manifest, tgz).status_code in (200, 201)
    url = packument_url(endpoint, "cached")

    first = http_get(url, token, accept=ABBREVIATED_ACCEPT)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and etag.endswith('"')
    again = http_get(url, token, accept=ABBREVIATED_ACCEPT, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    weak = http_get(url, token, accept=ABBREVIATED_ACCEPT, headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    # The full document is another representation, with its own tag.
    full = http_get(url, token, accept="application/json", headers={"If-None-Match": etag})
    assert full.status_code == 200 and full.headers["ETag"] != etag

    tgz, manifest = make_tarball("cached", "1.1.0")
    assert put_publish(endpoint, token, manifest, tgz).status_code in (200, 201)
    changed = http_get(url, token, accept=ABBREVIATED_ACCEPT, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert set(changed.json()["versions"]) == {"1.0.0", "1.1.0"}
    # Revalidation needs the token like any other read.
    assert_npm_error(http_get(url, None, headers={"If-None-Match": changed.headers["ETag"]}), 401)


def test_each_token_scheme_is_accepted(registry):
    endpoint, token = registry.registry, registry.token
    tgz, manifest = make_tarball("demo", "1.0.0")
    assert put_publish(endpoint, token, manifest, tgz).status_code in (200, 201)
    schemes = {
        "bearer": f"Bearer {token}",
        "basic": "Basic " + base64.b64encode(f"aws:{token}".encode()).decode(),
        "bare": token,
    }
    for label, value in schemes.items():
        packument = http_get(packument_url(endpoint, "demo"), headers={"Authorization": value})
        assert packument.status_code == 200, (label, packument.text)
        assert packument.json()["name"] == "demo"
        tarball = http_get(tarball_url(endpoint, "demo", "1.0.0"), headers={"Authorization": value})
        assert tarball.status_code == 200 and tarball.content == tgz, label


def test_missing_bad_and_foreign_tokens_are_401(client, domain, registry, tmp_path):
    registry.publish_new(tmp_path, "demo", "1.0.0")
    other = unique("t")
    client.create_domain(domain=other)
    token = registry.token
    refused = {
        "none": None,
        "bad": "not-a-token",
        "tampered": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "other-domain": auth_token(client, other),
    }
    endpoint = registry.registry
    tgz, manifest = make_tarball("demo", "2.0.0")
    for label, bad in refused.items():
        npm = Npm(endpoint, bad, tmp_path / f"npm-{label}")
        viewed = npm.fails("view", "demo")
        assert error_code_in(viewed.output, "E401"), (label, viewed.output)
        installed = npm.fails("install", "demo@1.0.0", cwd=new_project(tmp_path / label))
        assert error_code_in(installed.output, "E401"), (label, installed.output)
        assert_npm_error(http_get(packument_url(endpoint, "demo"), bad), 401)
        assert_npm_error(http_get(tarball_url(endpoint, "demo", "1.0.0"), bad), 401)
        assert_npm_error(put_publish(endpoint, bad, manifest, tgz), 401)
    wrong_basic = "Basic " + base64.b64encode(b"aws:not-a-token").decode()
    assert_npm_error(http_get(packument_url(endpoint, "demo"), headers={"Authorization": wrong_basic}), 401)
    assert npm_versions_in(client, domain, "repo", "demo") == {"1.0.0": "Published"}


# --------------------------------------------------------------------------- dist-tags, deprecate, unpublish


def test_dist_tags_round_trip_and_install_by_tag(client, domain, registry, tmp_path):
    registry.publish_new(tmp_path, "demo", "1.0.0")
    registry.publish_new(tmp_path, "demo", "1.1.0-beta.1", "--tag", "beta")
    assert registry.dist_tags("demo") == {"latest": "1.0.0", "beta": "1.1.0-beta.1"}

    registry.run("dist-tag", "add", "demo@1.0.0", "stable")
    assert registry.dist_tags("demo") == {"latest": "1.0.0", "beta": "1.1.0-beta.1", "stable": "1.0.0"}
    over_http = http_get(dist_tags_url(registry.registry, "demo"), registry.token)
    assert over_http.status_code == 200 and over_http.json() == registry.dist_tags("demo")

    project = new_project(tmp_path)
    registry.install(project, "demo@beta")
    assert installed_version(project, "demo") == "1.1.0-beta.1"

    registry.run("dist-tag", "rm", "demo", "stable")
    assert registry.dist_tags("demo") == {"latest": "1.0.0", "beta": "1.1.0-beta.1"}
    registry.run("dist-tag", "add", "demo@1.1.0-beta.1", "latest")
    assert registry.view("demo", "dist-tags") == {"latest": "1.1.0-beta.1", "beta": "1.1.0-beta.1"}

    registry.publish_new(tmp_path, SCOPED, "1.0.0", "--access", "public")
    registry.run("dist-tag", "add", f"{SCOPED}@1.0.0", "stable")
    assert registry.dist_tags(SCOPED) == {"latest": "1.0.0", "stable": "1.0.0"}


def test_deprecate_and_undeprecate(client, domain, registry, tmp_path):
    registry.publish_new(tmp_path, "demo", "1.0.0")
    registry.publish_new(tmp_path, "demo", "1.1.0")
    registry.run("deprecate", "demo@1.0.0", "use 1.1.0 instead")
    assert registry.view("demo@1.0.0", "deprecated") == "use 1.1.0 instead"
    assert registry.view("demo@1.1.0", "deprecated") is None
    assert as_list(registry.view("demo", "versions")) == ["1.0.0", "1.1.0"]
    assert describe_npm_version(client, domain, "repo", "demo", "1.0.0")["status"] == "Published"

    project = new_project(tmp_path)
    installed = registry.install(project, "demo@1.0.0")
    assert "deprecated" in installed.stdout + installed.stderr
    assert installed_version(project, "demo") == "1.0.0"

    registry.run("deprecate", "demo@1.0.0", "")
    assert registry.view("demo@1.0.0", "deprecated") in (None, "")


@pytest.mark.parametrize("name", ["demo", SCOPED], ids=["plain", "scoped"])
def test_unpublish_one_version(client, domain, registry, tmp_path, name):
    registry.publish_new(tmp_path, name, "1.0.0", "--access", "public")
    registry.publish_new(tmp_path, name, "1.1.0", "--access", "public")
    registry.run("unpublish", f"{name}@1.0.0")

    expect_error(client, "ResourceNotFoundException", 404, client.describe_package_version,
                 **npm_package(domain, "repo", name), packageVersion="1.0.0")
    assert npm_versions_in(client, domain, "repo", name) == {"1.1.0": "Published"}
    assert as_list(registry.view(name, "versions")) == ["1.1.0"]
    assert_npm_error(http_get(tarball_url(registry.registry, name, "1.0.0"), registry.token), 404)


def test_unpublish_the_whole_package_with_force(client, domain, registry, tmp_path):
    registry.publish_new(tmp_path, "demo", "1.0.0")
    registry.publish_new(tmp_path, "demo", "1.1.0")
    registry.run("unpublish", "demo", "--force")

    expect_error(client, "ResourceNotFoundException", 404, client.describe_package,
                 **npm_package(domain, "repo", "demo"))
    gone = registry.fails("view", "demo")
    assert error_code_in(gone.output, "E404"), gone.output
    # DeletePackage semantics: the name is free again at once
    registry.publish_new(tmp_path / "again", "demo", "2.0.0")
    assert npm_versions_in(client, domain, "repo", "demo") == {"2.0.0": "Published"}


def publish_versions(registry: Npm, name: str, *versions: str) -> None:
    """Publish `versions` of `name` over HTTP with the body npm sends (faster than npm publish)."""
    for version in versions:
        tgz, manifest = make_tarball(name, version)
        response = put_publish(registry.registry, registry.token, manifest, tgz)
        assert response.status_code in (200, 201), response.text


def full_packument(registry: Npm, name: str) -> dict:
    """The full packument, as npm deprecate and npm unpublish read it before their PUT."""
    response = http_get(packument_url(registry.registry, name), registry.token, accept="application/json")
    assert response.status_code == 200, response.text
    return response.json()


def test_deprecate_keeps_the_versions_npm_was_not_shown(client, domain, registry):
    """npm deprecate PUTs back the packument it was shown; the versions it was not shown (Unlisted,
    Archived, Disposed) are missing from that document but are no deletion (compatibility N20)."""
    publish_versions(registry, "demo", "1.0.0", "1.1.0", "1.3.0", "1.2.0")  # latest: 1.2.0
    set_npm_status(client, domain, "repo", "demo", "1.1.0", "Unlisted")
    set_npm_status(client, domain, "repo", "demo", "1.2.0", "Archived")
    set_npm_status(client, domain, "repo", "demo", "1.3.0", "Disposed")

    registry.run("deprecate", "demo@1.0.0", "use 2.0.0")
    assert npm_versions_in(client, domain, "repo", "demo") == \
        {"1.0.0": "Published", "1.1.0": "Unlisted", "1.2.0": "Archived", "1.3.0": "Disposed"}
    assert full_packument(registry, "demo")["versions"]["1.0.0"]["deprecated"] == "use 2.0.0"
    # the hidden versions come back as they were: not deprecated, `latest` still on 1.2.0 (npm
    # was shown a computed latest, 1.0.0, and sent it back)
    set_npm_status(client, domain, "repo", "demo", "1.1.0", "Published")
    set_npm_status(client, domain, "repo", "demo", "1.2.0", "Published")
    restored = full_packument(registry, "demo")
    assert "deprecated" not in restored["versions"]["1.1.0"]
    assert restored["dist-tags"] == {"latest": "1.2.0"}


def test_unpublish_one_of_several_versions_leaves_all_others(client, domain, registry):
    publish_versions(registry, "demo", "1.0.0", "1.1.0", "1.2.0", "1.3.0")
    set_npm_status(client, domain, "repo", "demo", "1.3.0", "Unlisted")
    registry.run("unpublish", "demo@1.1.0")
    assert npm_versions_in(client, domain, "repo", "demo") == \
        {"1.0.0": "Published", "1.2.0": "Published", "1.3.0": "Unlisted"}
    assert as_list(registry.view("demo", "versions")) == ["1.0.0", "1.2.0"]


def test_metadata_put_of_a_stale_rev_is_a_conflict(client, domain, registry):
    """`_rev` is the revision of the repository's package; a deprecate/unpublish PUT that sends back
    an older one (in the body or the URL) is 409 and changes nothing, so it cannot drop a version
    published since it read the packument (compatibility N21)."""
    endpoint, token = registry.registry, registry.token
    publish_versions(registry, "demo", "1.0.0")
    shown = full_packument(registry, "demo")
    old_rev = shown["_rev"]
    assert re.fullmatch(r"1-[0-9a-f]{32}", old_rev), old_rev
    assert "_rev" not in http_get(packument_url(endpoint, "demo"), token, accept=ABBREVIATED_ACCEPT).json()

    publish_versions(registry, "demo", "1.1.0")  # published after `shown` was read
    new_rev = full_packument(registry, "demo")["_rev"]
    assert new_rev != old_rev and new_rev.startswith("2-")

    shown["versions"]["1.0.0"]["deprecated"] = "stale"
    headers = {**bearer(token), "Content-Type": "application/json"}
    url = packument_url(endpoint, "demo")
    assert_npm_error(requests.put(url, json=shown, headers=headers, timeout=30), 409)
    in_url_only = {k: v for k, v in shown.items() if k != "_rev"}
    assert_npm_error(requests.put(f"{url}/-rev/{old_rev}", json=in_url_only, headers=headers, timeout=30), 409)
    assert_npm_error(requests.put(f"{url}/-rev/{old_rev}", json=dict(shown, _rev=new_rev), headers=headers,
                                  timeout=30), 409)
    assert npm_versions_in(client, domain, "repo", "demo") == {"1.0.0": "Published", "1.1.0": "Published"}
    current = full_packument(registry, "demo")
    assert current["_rev"] == new_rev and "deprecated" not in current["versions"]["1.0.0"]

    # the current revision is accepted, and the change gives a new one
    current["versions"]["1.0.0"]["deprecated"] = "fresh"
    accepted = requests.put(f"{url}/-rev/{new_rev}", json=current, headers=headers, timeout=30)
    assert accepted.status_code in (200, 201), accepted.text
    deprecated = full_packument(registry, "demo")
    assert deprecated["versions"]["1.0.0"]["deprecated"] == "fresh" and deprecated["_rev"] != new_rev
    # a status change and a dist-tag change are new revisions too
    set_npm_status(client, domain, "repo", "demo", "1.1.0", "Unlisted")
    unlisted = full_packument(registry, "demo")["_rev"]
    assert unlisted != deprecated["_rev"]
    registry.run("dist-tag", "add", "demo@1.0.0", "stable")
    assert full_packument(registry, "demo")["_rev"] != unlisted


def test_whole_package_delete_of_a_stale_rev_and_a_put_without_versions_change_nothing(client, domain, registry):
    """`npm unpublish pkg --force` DELETEs the package at the revision it was shown: a stale one is 409
    and nothing goes; a metadata PUT without `versions` is 400, not "unpublish all" (compatibility N22)."""
    endpoint, token = registry.registry, registry.token
    publish_versions(registry, "demo", "1.0.0", "1.1.0")
    set_npm_status(client, domain, "repo", "demo", "1.1.0", "Archived")
    shown = full_packument(registry, "demo")
    publish_versions(registry, "demo", "1.2.0")  # published after `shown` was read
    headers = {**bearer(token), "Content-Type": "application/json"}
    url = packument_url(endpoint, "demo")

    assert_npm_error(requests.delete(f"{url}/-rev/{shown['_rev']}", headers=headers, timeout=30), 409)
    no_versions = {k: v for k, v in shown.items() if k != "versions"}
    assert_npm_error(requests.put(url, json=no_versions, headers=headers, timeout=30), 400)
    assert npm_versions_in(client, domain, "repo", "demo") == \
        {"1.0.0": "Published", "1.1.0": "Archived", "1.2.0": "Published"}

    current = full_packument(registry, "demo")["_rev"]
    deleted = requests.delete(f"{url}/-rev/{current}", headers=headers, timeout=30)
    assert deleted.status_code == 200, deleted.text
    expect_error(client, "ResourceNotFoundException", 404, client.describe_package,
                 **npm_package(domain, "repo", "demo"))


# --------------------------------------------------------------------------- upstreams and origin controls


def test_install_through_a_two_level_upstream_chain(client, domain, tmp_path):
    client.create_repository(domain=domain, repository="repo-c")
    client.create_repository(domain=domain, repository="repo-b", upstreams=[{"repositoryName": "repo-c"}])
    client.create_repository(domain=domain, repository="repo-a", upstreams=[{"repositoryName": "repo-b"}])
    into_c = npm_for(client, domain, "repo-c", tmp_path / "npm-c")
    into_c.publish_new(tmp_path, "demo", "1.0.0")
    into_c.publish_new(tmp_path, SCOPED, "1.0.0", "--access", "public")

    from_a = npm_for(client, domain, "repo-a", tmp_path / "npm-a")
    project = new_project(tmp_path)
    from_a.install(project, "demo@1.0.0", f"{SCOPED}@1.0.0")
    assert installed_version(project, "demo") == "1.0.0"
    assert installed_version(project, SCOPED) == "1.0.0"

    for name in ("demo", SCOPED):
        assert retained(client, domain, "repo-a", name) == {"1.0.0": "Published"}
        assert describe_npm_version(client, domain, "repo-a", name, "1.0.0")["origin"] == internal_origin("repo-c")
        assert npm_asset(client, domain, "repo-a", name, "1.0.0") == npm_asset(client, domain, "repo-c", name, "1.0.0")
        assert npm_versions_in(client, domain, "repo-b", name) == {}, "an intermediate repository retained it"

    # retained: deleting the version upstream does not take it from A
    set_npm_status(client, domain, "repo-c", "demo", "1.0.0", "Deleted")
    again = new_project(tmp_path / "again")
    npm_for(client, domain, "repo-a", tmp_path / "npm-a-fresh").install(again, "demo@1.0.0")
    assert installed_version(again, "demo") == "1.0.0"


def test_upstream_block_on_the_downstream_package_refuses_the_install(client, domain, tmp_path):
    client.create_repository(domain=domain, repository="repo-c")
    client.create_repository(domain=domain, repository="repo-a", upstreams=[{"repositoryName": "repo-c"}])
    npm_for(client, domain, "repo-c", tmp_path / "npm-c").publish_new(tmp_path, "demo", "1.0.0")
    into_a = npm_for(client, domain, "repo-a", tmp_path / "npm-a")
    into_a.publish_new(tmp_path / "own", "demo", "0.9.0", "--tag", "old")
    assert npm_origin_restrictions(client, domain, "repo-a", "demo") == {"publish": "ALLOW", "upstream": "BLOCK"}
    set_npm_origin(client, domain, "repo-a", "demo", publish="ALLOW", upstream="BLOCK")

    blocked = npm_for(client, domain, "repo-a", tmp_path / "npm-blocked")
    failed = blocked.fails("install", "demo@1.0.0", cwd=new_project(tmp_path / "blocked"))
    assert error_code_in(failed.output, "E404", "ETARGET"), failed.output
    assert_npm_error(http_get(tarball_url(blocked.registry, "demo", "1.0.0"), blocked.token), 404)
    assert npm_versions_in(client, domain, "repo-a", "demo") == {"0.9.0": "Published"}

    set_npm_origin(client, domain, "repo-a", "demo", publish="ALLOW", upstream="ALLOW")
    project = new_project(tmp_path / "allowed")
    npm_for(client, domain, "repo-a", tmp_path / "npm-allowed").install(project, "demo@1.0.0")
    assert installed_version(project, "demo") == "1.0.0"
    assert wait_until(lambda: "1.0.0" in npm_versions_in(client, domain, "repo-a", "demo"))
    assert npm_versions_in(client, domain, "repo-a", "demo") == {"0.9.0": "Published", "1.0.0": "Published"}


def test_dist_tag_conflict_upstream_latest_wins(client, domain, tmp_path):
    client.create_repository(domain=domain, repository="repo-c")
    client.create_repository(domain=domain, repository="repo-a", upstreams=[{"repositoryName": "repo-c"}])
    npm_for(client, domain, "repo-c", tmp_path / "npm-c").publish_new(tmp_path / "c", "demo", "1.0.0")
    npm_for(client, domain, "repo-a", tmp_path / "npm-a").publish_new(tmp_path / "a", "demo", "2.0.0")
    set_npm_origin(client, domain, "repo-a", "demo", publish="ALLOW", upstream="ALLOW")

    reader = npm_for(client, domain, "repo-a", tmp_path / "npm-read")
    doc = reader.view("demo")
    assert sorted(doc["versions"]) == ["1.0.0", "2.0.0"]
    assert doc["dist-tags"]["latest"] == "1.0.0", "the upstream's latest must win"
    project = new_project(tmp_path)
    reader.install(project, "demo")
    assert installed_version(project, "demo") == "1.0.0"


def test_publishing_a_version_present_upstream(client, domain, tmp_path):
    client.create_repository(domain=domain, repository="repo-c")
    client.create_repository(domain=domain, repository="repo-a", upstreams=[{"repositoryName": "repo-c"}])
    npm_for(client, domain, "repo-c", tmp_path / "npm-c").publish_new(tmp_path / "c", "demo", "1.0.0")
    into_a = npm_for(client, domain, "repo-a", tmp_path / "npm-a")
    into_a.publish_new(tmp_path / "a", "demo", "0.1.0", "--tag", "first")
    set_npm_origin(client, domain, "repo-a", "demo", publish="ALLOW", upstream="ALLOW")

    # publish ALLOW + upstream ALLOW: a version a reachable upstream has is a conflict
    clash = write_package(tmp_path / "clash", "demo", "1.0.0", description="downstream's own 1.0.0")
    refused = into_a.fails("publish", "--force", cwd=clash)
    assert error_code_in(refused.output, "E409", "EPUBLISHCONFLICT"), refused.output
    tgz, manifest = make_tarball("demo", "1.0.0", {"description": "over the API"})
    assert_npm_error(put_publish(into_a.registry, into_a.token, manifest, tgz, tag="own"), 409)
    assert npm_versions_in(client, domain, "repo-a", "demo") == {"0.1.0": "Published"}
    # ... a version no upstream has is fine
    into_a.publish_new(tmp_path / "a2", "demo", "1.5.0", "--tag", "next")

    # upstream BLOCK: any version not yet in A can be published
    set_npm_origin(client, domain, "repo-a", "demo", publish="ALLOW", upstream="BLOCK")
    into_a.publish(clash, "--tag", "own")
    described = describe_npm_version(client, domain, "repo-a", "demo", "1.0.0")
    assert described["origin"] == internal_origin("repo-a")
    assert described["summary"] == "downstream's own 1.0.0"

    # publish BLOCK: nothing can be published
    set_npm_origin(client, domain, "repo-a", "demo", publish="BLOCK", upstream="ALLOW")
    blocked = write_package(tmp_path / "blocked", "demo", "3.0.0")
    refused = into_a.fails("publish", "--force", cwd=blocked)
    assert error_code_in(refused.output, "E403"), refused.output
    tgz, manifest = make_tarball("demo", "3.0.0")
    assert_npm_error(put_publish(into_a.registry, into_a.token, manifest, tgz), 403)
    assert "3.0.0" not in npm_versions_in(client, domain, "repo-a", "demo")


# --------------------------------------------------------------------------- external connection


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKENDS)
def test_external_connection_through_a_second_reliquary(backend, tmp_path):
    """`public:npmjs` pointed (RELIQUARY_EXTERNAL_NPMJS_URL/_TOKEN) at an npm endpoint of a second
    Reliquary that stands in for the public registry."""
    with running_server("sqlite", tmp_path / "public") as public:
        upstream_client = make_client(public.url)
        upstream_client.create_domain(domain="registry")
        upstream_client.create_repository(domain="registry", repository="npmjs")
        publisher = npm_for(upstream_client, "registry", "npmjs", tmp_path / "npm-public")
        publisher.publish_new(tmp_path / "pub", "demo", "1.0.0", description="from the public registry")
        publisher.publish_new(tmp_path / "pub", "demo", "1.1.0", description="from the public registry")
        publisher.publish_new(tmp_path / "pub", SCOPED, "1.0.0", "--access", "public")
        public_assets = {name: npm_asset(upstream_client, "registry", "npmjs", name, "1.0.0")
                         for name in ("demo", SCOPED)}

        with running_server_with_env(backend, tmp_path / "private",
                                     RELIQUARY_EXTERNAL_NPMJS_URL=publisher.registry,
                                     RELIQUARY_EXTERNAL_NPMJS_TOKEN=publisher.token) as private:
            client = make_client(private.url)
            domain = unique("t")
            client.create_domain(domain=domain)
            client.create_repository(domain=domain, repository="npm-store")
            client.associate_external_connection(domain=domain, repository="npm-store",
                                                 externalConnection="public:npmjs")
            client.create_repository(domain=domain, repository="app", upstreams=[{"repositoryName": "npm-store"}])

            app = npm_for(client, domain, "app", tmp_path / "npm-app")
            doc = app.view("demo")
            assert sorted(doc["versions"]) == ["1.0.0", "1.1.0"]
            assert doc["description"] == "from the public registry"
            project = new_project(tmp_path / "first")
            app.install(project, "demo@1.0.0", f"{SCOPED}@1.0.0")
            assert installed_version(project, "demo") == "1.0.0"
            assert installed_version(project, SCOPED) == "1.0.0"

            for name in ("demo", SCOPED):
                for repository in ("app", "npm-store"):
                    assert "1.0.0" in retained(client, domain, repository, name), (repository, name)
                    described = describe_npm_version(client, domain, repository, name, "1.0.0")
                    assert described["origin"] == external_origin(), (repository, name)
                    assert npm_asset(client, domain, repository, name, "1.0.0") == public_assets[name]
                assert npm_origin_restrictions(client, domain, "npm-store", name) == \
                    {"publish": "BLOCK", "upstream": "ALLOW"}

            stop_cleanly(public)

            # the public registry is gone: what was fetched still installs, with a fresh cache
            again = new_project(tmp_path / "again")
            offline = npm_for(client, domain, "app", tmp_path / "npm-offline")
            offline.install(again, "demo@1.0.0", f"{SCOPED}@1.0.0")
            assert installed_version(again, "demo") == "1.0.0"
            assert installed_version(again, SCOPED) == "1.0.0"
            # ... and a version that was never fetched is unavailable, without hanging
            offline.fails("install", "demo@1.1.0", cwd=new_project(tmp_path / "never"))


# --------------------------------------------------------------------------- copies


def test_copy_carries_dist_tags(client, domain, tmp_path):
    client.create_repository(domain=domain, repository="src")
    client.create_repository(domain=domain, repository="dst")
    source = npm_for(client, domain, "src", tmp_path / "npm-src")
    for version in ("1.0.0", "2.0.0"):
        source.publish_new(tmp_path / "src", "demo", version)
    source.publish_new(tmp_path / "src", "demo", "3.0.0-beta.1", "--tag", "beta")
    npm_for(client, domain, "dst", tmp_path / "npm-dst").publish_new(tmp_path / "dst", "demo", "0.5.0")

    def copy(version: str) -> None:
        result = client.copy_package_versions(domain=domain, sourceRepository="src", destinationRepository="dst",
                                              format="npm", package="demo", versions=[version])
        assert list(result["successfulVersions"]) == [version], result
        assert not result.get("failedVersions"), result

    def destination_tags(label: str) -> dict[str, str]:
        return npm_for(client, domain, "dst", tmp_path / f"npm-dst-{label}").dist_tags("demo")

    copy("2.0.0")  # src's latest
    assert destination_tags("latest") == {"latest": "2.0.0"}
    copy("3.0.0-beta.1")  # src's beta
    assert destination_tags("beta") == {"latest": "2.0.0", "beta": "3.0.0-beta.1"}
    copy("1.0.0")  # no tag points at it in src: dst's tags stay
    assert destination_tags("untagged") == {"latest": "2.0.0", "beta": "3.0.0-beta.1"}

    reader = npm_for(client, domain, "dst", tmp_path / "npm-dst-read")
    project = new_project(tmp_path)
    reader.install(project, "demo")
    assert installed_version(project, "demo") == "2.0.0"
    assert sorted(npm_versions_in(client, domain, "dst", "demo")) == ["0.5.0", "1.0.0", "2.0.0", "3.0.0-beta.1"]


# --------------------------------------------------------------------------- statuses


def test_hidden_statuses(client, domain, registry, tmp_path):
    endpoint, token = registry.registry, registry.token
    tarballs = {}
    for index, version in enumerate(["1.0.0", "1.1.0", "1.2.0", "1.3.0"]):
        tgz, manifest = make_tarball("demo", version)
        tarballs[version] = tgz
        tag = "latest" if version == "1.0.0" else f"t{index}"
        assert put_publish(endpoint, token, manifest, tgz, tag=tag).status_code in (200, 201)
    # a lockfile made while 1.1.0 was Published
    locked = new_project(tmp_path / "locked")
    registry.install(locked, "demo@1.1.0")

    set_npm_status(client, domain, "repo", "demo", "1.1.0", "Unlisted")
    set_npm_status(client, domain, "repo", "demo", "1.2.0", "Archived")
    set_npm_status(client, domain, "repo", "demo", "1.3.0", "Disposed")

    reader = npm_for(client, domain, "repo", tmp_path / "npm-read")
    assert as_list(reader.view("demo", "versions")) == ["1.0.0"]
    failed = reader.fails("install", "demo@1.1.0", cwd=new_project(tmp_path / "by-spec"))
    assert error_code_in(failed.output, "ETARGET", "E404"), failed.output

    # Unlisted: the tarball still downloads (by URL, and through a lockfile with a fresh cache)
    unlisted = http_get(tarball_url(endpoint, "demo", "1.1.0"), token)
    assert unlisted.status_code == 200 and unlisted.content == tarballs["1.1.0"]
    shutil.rmtree(locked / "node_modules")
    npm_for(client, domain, "repo", tmp_path / "npm-ci").run("ci", cwd=locked)
    assert installed_version(locked, "demo") == "1.1.0"
    # Archived and Disposed: 404 for npm
    assert_npm_error(http_get(tarball_url(endpoint, "demo", "1.2.0"), token), 404)
    assert_npm_error(http_get(tarball_url(endpoint, "demo", "1.3.0"), token), 404)

    set_npm_status(client, domain, "repo", "demo", "1.1.0", "Published")
    set_npm_status(client, domain, "repo", "demo", "1.2.0", "Published")
    assert as_list(npm_for(client, domain, "repo", tmp_path / "npm-back").view("demo", "versions")) == \
        ["1.0.0", "1.1.0", "1.2.0"]


# --------------------------------------------------------------------------- aws codeartifact login


def aws_npm_login(server, domain: str, home: Path, *extra: str, npmrc: str | None = None) -> dict[str, str]:
    """`aws codeartifact login --tool npm` with NPM_CONFIG_USERCONFIG=<home>/npmrc (pre-filled with
    `npmrc` if given); returns the hermetic npm environment using that user config."""
    home.mkdir(parents=True)
    if npmrc is not None:
        (home / "npmrc").write_text(npmrc)
    (home / "global-npmrc").touch()
    env = hermetic_npm_env(home / "npmrc", home / "cache", home / "global-npmrc")
    cli = AwsCliWithEnv(server.url, extra_env={k: v for k, v in env.items() if k.startswith("NPM_CONFIG_")})
    out = cli("codeartifact", "login", "--tool", "npm", "--domain", domain, "--repository", "repo",
              "--region", "us-east-1", *extra, output="text")
    assert "Successfully configured npm" in out, out
    return env


def plain_npm_install(env: dict[str, str], project: Path, *specs: str) -> None:
    proc = subprocess.run(["npm", "install", *specs, "--no-audit", "--no-fund"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"npm install exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


def test_aws_codeartifact_login_tool_npm(server, client, domain, registry, tmp_path):
    registry.publish_new(tmp_path, "demo", "1.0.0")
    registry.publish_new(tmp_path, SCOPED, "1.0.0", "--access", "public")

    env = aws_npm_login(server, domain, tmp_path / "login")
    written = (tmp_path / "login" / "npmrc").read_text()
    assert f"registry={registry.registry}" in written, written
    assert f"{nerf_dart(registry.registry)}:_authToken=" in written, written
    project = new_project(tmp_path / "plain")
    plain_npm_install(env, project, "demo@1.0.0")
    assert installed_version(project, "demo") == "1.0.0"

    # --namespace: only the scope goes to Reliquary (the default registry is a dead local port)
    env = aws_npm_login(server, domain, tmp_path / "login-scoped", "--namespace", "acme",
                        npmrc="registry=http://127.0.0.1:9/\n")
    written = (tmp_path / "login-scoped" / "npmrc").read_text()
    assert f"@acme:registry={registry.registry}" in written, written
    project = new_project(tmp_path / "scoped")
    plain_npm_install(env, project, f"{SCOPED}@1.0.0")
    assert installed_manifest(project, SCOPED)["version"] == "1.0.0"
