"""The PyPI endpoint driven by the real `twine` (7) and `pip` (23), and `uv` when installed, plus
plain HTTP, checked through boto3: upload (sdist + wheel, multi-file versions, identical re-upload,
conflicts, digest checks), install by any spelling of the name, the simple API in HTML (PEP 503)
and JSON (PEP 691) with PEP 658 core metadata, version metadata and dependencies, upstream chains
and retention, the `public:pypi` external connection (a second Reliquary stands in for PyPI),
Unlisted = yanked, copies, token refusals and `aws codeartifact login --tool pip|twine`.

The endpoint is `GetRepositoryEndpoint(format='pypi')` = `<server>/pypi/d/<domain>-<owner>/<repo>/`.
Distributions are built in code (pypi_support.make_wheel/make_sdist), never with `python -m build`;
pip only ever installs wheels. Every client run is hermetic (no PIP_*/UV_* of the caller, no
config file, no cache): installs always reach the server. Each test has its own domain."""

from __future__ import annotations

import configparser
import sys
from pathlib import Path

import pytest

from support import running_server_with_env
from pypi_support import (
    HTML_MEDIA_TYPE,
    JSON_MEDIA_TYPE,
    PIP_ACCEPT,
    AwsCliIn,
    anchors,
    anchors_by_text,
    assert_401,
    auth_token,
    basic,
    describe_pypi_version,
    file_url,
    hermetic_env,
    http_get,
    index_url,
    installed_module,
    installed_version,
    make_sdist,
    make_wheel,
    normalize,
    pip_argv,
    pip_install,
    pip_install_fails,
    pypi_asset,
    pypi_assets,
    pypi_dependencies,
    pypi_endpoint,
    pypi_origin_restrictions,
    pypi_package,
    pypi_revision,
    pypi_versions_in,
    run_client,
    set_pypi_origin,
    set_pypi_status,
    simple_url,
    split_link,
    twine_argv,
    twine_upload,
    upload,
    upload_ok,
    uv_binary,
    uv_pip_install,
    wait_until,
)
from support import BACKENDS, asset_hashes, expect_error, make_client, running_server, stop_cleanly, unique

NAME = "My_Pkg"  # uploaded spelling; normalized `my-pkg`, files `my_pkg-...`
SPELLINGS = ["My_Pkg", "my.pkg", "MY-PKG"]


@pytest.fixture
def repo(client, domain):
    """A repository `repo` in `domain`: (endpoint, token)."""
    client.create_repository(domain=domain, repository="repo")
    return pypi_endpoint(client, domain, "repo"), auth_token(client, domain)


def internal_origin(repository: str) -> dict:
    return {"domainEntryPoint": {"repositoryName": repository}, "originType": "INTERNAL"}


def external_origin(connection: str = "public:pypi") -> dict:
    return {"domainEntryPoint": {"externalConnectionName": connection}, "originType": "EXTERNAL"}


def retained(client, domain: str, repository: str, name: str, version: str) -> dict[str, str]:
    """{version: status} of `name` in `repository` once `version` is there (retention may trail the
    download by a moment)."""
    wait_until(lambda: version in pypi_versions_in(client, domain, repository, name))
    return pypi_versions_in(client, domain, repository, name)


def project_html(endpoint: str, token: str, project: str = NAME):
    response = http_get(simple_url(endpoint, project), token, accept="text/html")
    assert response.status_code == 200, (response.status_code, response.text[:500])
    return response


def project_json(endpoint: str, token: str, project: str = NAME) -> dict:
    response = http_get(simple_url(endpoint, project), token, accept=JSON_MEDIA_TYPE)
    assert response.status_code == 200, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith(JSON_MEDIA_TYPE), response.headers
    return response.json()


# --------------------------------------------------------------------------- upload and install


def test_twine_upload_then_pip_install_by_any_spelling(client, domain, repo, tmp_path):
    endpoint, token = repo
    wheel = make_wheel(NAME, "1.0", requires_python=">=3.8")
    sdist = make_sdist(NAME, "1.0", requires_python=">=3.8")
    out = twine_upload(endpoint, token, [sdist.write(tmp_path / "dist"), wheel.write(tmp_path / "dist")])
    assert "Uploading" in out.stdout + out.stderr

    for index, spelling in enumerate(SPELLINGS):
        target = tmp_path / f"site-{index}"
        pip_install(index_url(endpoint, token), target, f"{spelling}==1.0")
        assert installed_version(target, NAME) == "1.0", spelling
        assert "VERSION = '1.0'" in installed_module(target, NAME)

    listed = client.list_packages(domain=domain, repository="repo", format="pypi")["packages"]
    assert [(p["format"], p.get("namespace"), p["package"]) for p in listed] == [("pypi", None, "my-pkg")]
    package = client.describe_package(**pypi_package(domain, "repo", NAME))["package"]
    assert package["name"] == "my-pkg" and package["format"] == "pypi" and "namespace" not in package
    assert pypi_versions_in(client, domain, "repo", NAME) == {"1.0": "Published"}
    names = {a["name"] for a in pypi_assets(client, domain, "repo", NAME, "1.0")}
    assert names == {sdist.filename, wheel.filename, f"{wheel.filename}.metadata"}
    assert pypi_asset(client, domain, "repo", NAME, "1.0", sdist.filename) == sdist.content
    assert pypi_asset(client, domain, "repo", NAME, "1.0", wheel.filename) == wheel.content
    # a package first published directly: publish ALLOW, upstream BLOCK (digest §4.5)
    assert pypi_origin_restrictions(client, domain, "repo", NAME) == {"publish": "ALLOW", "upstream": "BLOCK"}


@pytest.mark.skipif(uv_binary() is None, reason="uv is not installed")
def test_uv_pip_install(repo, tmp_path):
    endpoint, token = repo
    upload_ok(endpoint, token, make_wheel(NAME, "1.0"), make_wheel(NAME, "1.1"), make_sdist(NAME, "1.1"))
    # uv asks for PEP 691 JSON and reads PEP 658 metadata before the wheel
    uv_pip_install(index_url(endpoint, token), tmp_path / "latest", tmp_path / "uv-cache", "my.pkg")
    assert installed_version(tmp_path / "latest", NAME) == "1.1"
    uv_pip_install(index_url(endpoint, token), tmp_path / "pinned", tmp_path / "uv-cache-2", "MY_PKG==1.0")
    assert installed_version(tmp_path / "pinned", NAME) == "1.0"


def test_multi_file_version_gets_a_new_revision_per_file(client, domain, repo):
    endpoint, token = repo
    sdist = make_sdist(NAME, "1.0")
    py3 = make_wheel(NAME, "1.0")
    py2 = make_wheel(NAME, "1.0", tag="py2-none-any")
    upload_ok(endpoint, token, sdist)
    revisions = [pypi_revision(client, domain, "repo", NAME, "1.0")]
    assert [a["name"] for a in pypi_assets(client, domain, "repo", NAME, "1.0")] == [sdist.filename]
    for wheel in (py3, py2):
        upload_ok(endpoint, token, wheel)
        revisions.append(pypi_revision(client, domain, "repo", NAME, "1.0"))
    assert len(set(revisions)) == 3, revisions
    assert pypi_versions_in(client, domain, "repo", NAME) == {"1.0": "Published"}
    names = {a["name"] for a in pypi_assets(client, domain, "repo", NAME, "1.0")}
    assert names == {sdist.filename, py3.filename, f"{py3.filename}.metadata", py2.filename,
                     f"{py2.filename}.metadata"}
    page = anchors_by_text(project_html(endpoint, token).text)
    assert set(page) == {sdist.filename, py3.filename, py2.filename}


def test_reupload_identical_is_ok_and_different_content_is_409(client, domain, repo, tmp_path):
    endpoint, token = repo
    wheel = make_wheel(NAME, "1.0")
    path = wheel.write(tmp_path / "first")
    twine_upload(endpoint, token, [path])
    twine_upload(endpoint, token, [path])  # identical: 200, no --skip-existing needed
    assert upload(endpoint, token, wheel).status_code == 200

    other = make_wheel(NAME, "1.0", body="CHANGED = True\n")
    assert other.filename == wheel.filename and other.content != wheel.content
    refused = twine_upload(endpoint, token, [other.write(tmp_path / "second")], check=False)
    assert refused.returncode != 0, refused.stdout
    assert "409" in refused.stdout + refused.stderr, refused.stdout + refused.stderr
    assert upload(endpoint, token, other).status_code == 409
    assert pypi_asset(client, domain, "repo", NAME, "1.0", wheel.filename) == wheel.content
    downloaded = http_get(file_url(endpoint, NAME, "1.0", wheel.filename), token)
    assert downloaded.status_code == 200 and downloaded.content == wheel.content


def test_digest_mismatch_is_400(client, domain, repo):
    endpoint, token = repo
    wheel = make_wheel(NAME, "1.0")
    wrong = "0" * 64
    for field_name in ("sha256_digest", "blake2_256_digest"):
        response = upload(endpoint, token, wheel, **{field_name: wrong})
        assert response.status_code == 400, (field_name, response.status_code, response.text[:300])
    response = upload(endpoint, token, wheel, md5_digest="0" * 32)
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert pypi_versions_in(client, domain, "repo", NAME) == {}
    assert http_get(simple_url(endpoint, NAME), token).status_code == 404
    # no digest at all is fine (digests are verified when sent)
    response = upload(endpoint, token, wheel, sha256_digest=None, blake2_256_digest=None)
    assert response.status_code == 200, response.text[:300]


# --------------------------------------------------------------------------- the simple API


def test_simple_pages_html_and_json(repo):
    endpoint, token = repo
    requires_python = ">=3.8,<4"
    wheel = make_wheel(NAME, "1.0", requires_python=requires_python)
    sdist = make_sdist(NAME, "1.0", requires_python=requires_python)
    upload_ok(endpoint, token, sdist, wheel, make_wheel("other.project", "2.0"))

    # root page: every project, both ways
    root_html = http_get(simple_url(endpoint), token, accept="text/html")
    assert root_html.status_code == 200 and root_html.headers["Content-Type"].startswith("text/html")
    linked = {normalize(a.text): split_link(root_html.url, a.href)[0] for a in anchors(root_html.text)}
    assert sorted(linked) == ["my-pkg", "other-project"], linked
    for project, url in linked.items():  # PEP 503: the link's last path segment is the name
        assert url.startswith(simple_url(endpoint)) and url.endswith("/"), url
        assert normalize(url[len(simple_url(endpoint)):].strip("/")) == project, url
    root_json = http_get(simple_url(endpoint), token, accept=JSON_MEDIA_TYPE)
    assert root_json.status_code == 200 and root_json.headers["Content-Type"].startswith(JSON_MEDIA_TYPE)
    assert root_json.json()["meta"]["api-version"].startswith("1.")
    assert sorted(normalize(p["name"]) for p in root_json.json()["projects"]) == ["my-pkg", "other-project"]

    # project page, HTML: links with #sha256, requires-python escaped, core metadata for the wheel
    for spelling in SPELLINGS + ["my-pkg"]:
        page = project_html(endpoint, token, spelling)
        assert page.headers["Content-Type"].startswith(("text/html", HTML_MEDIA_TYPE)), page.headers
        assert "&gt;=3.8,&lt;4" in page.text and ",<4" not in page.text, "data-requires-python not escaped"
        links = anchors_by_text(page.text)
        assert set(links) == {wheel.filename, sdist.filename}, spelling
        for dist in (wheel, sdist):
            anchor = links[dist.filename]
            url, fragment = split_link(page.url, anchor.href)
            assert url == file_url(endpoint, NAME, "1.0", dist.filename)
            assert fragment == f"sha256={dist.sha256}"
            assert anchor.attrs.get("data-requires-python") == requires_python
            assert "data-yanked" not in anchor.attrs
        assert links[wheel.filename].attrs.get("data-core-metadata") == f"sha256={wheel.metadata_sha256}"
        assert links[wheel.filename].attrs.get("data-dist-info-metadata") == f"sha256={wheel.metadata_sha256}"
        assert "data-core-metadata" not in links[sdist.filename].attrs
        assert "data-dist-info-metadata" not in links[sdist.filename].attrs

    # the files and the PEP 658 metadata behind the links
    wheel_url = file_url(endpoint, NAME, "1.0", wheel.filename)
    for dist in (wheel, sdist):
        got = http_get(file_url(endpoint, NAME, "1.0", dist.filename), token)
        assert got.status_code == 200 and got.content == dist.content
    metadata = http_get(f"{wheel_url}.metadata", token)
    assert metadata.status_code == 200 and metadata.content == wheel.metadata

    # project page, JSON
    doc = project_json(endpoint, token, "My.Pkg")
    assert doc["meta"]["api-version"].startswith("1.")
    assert doc["name"] == "my-pkg"
    assert doc["versions"] == ["1.0"]
    files = {f["filename"]: f for f in doc["files"]}
    assert set(files) == {wheel.filename, sdist.filename}
    for dist in (wheel, sdist):
        entry = files[dist.filename]
        assert split_link(simple_url(endpoint, "My.Pkg"), entry["url"])[0] == file_url(endpoint, NAME, "1.0",
                                                                                      dist.filename)
        assert entry["hashes"] == {"sha256": dist.sha256}
        assert entry["requires-python"] == requires_python
        assert entry.get("yanked", False) is False
        assert entry["size"] == len(dist.content)
        assert isinstance(entry["upload-time"], str) and entry["upload-time"].endswith("Z"), entry
    assert files[wheel.filename]["core-metadata"] == {"sha256": wheel.metadata_sha256}
    assert files[sdist.filename].get("core-metadata", False) is False

    # negotiation: pip's Accept gets JSON, no Accept gets HTML
    assert http_get(simple_url(endpoint, NAME), token, accept=PIP_ACCEPT).headers["Content-Type"].startswith(
        JSON_MEDIA_TYPE)
    default = http_get(simple_url(endpoint, NAME), token)
    assert default.status_code == 200 and not default.headers["Content-Type"].startswith(JSON_MEDIA_TYPE)
    # unknown project: 404 both ways
    for accept in ("text/html", JSON_MEDIA_TYPE):
        assert http_get(simple_url(endpoint, "no-such-project"), token, accept=accept).status_code == 404


def test_each_token_scheme_is_accepted(repo):
    endpoint, token = repo
    wheel = make_wheel(NAME, "1.0")
    assert upload(endpoint, token, wheel).status_code == 200
    for label, value in {"basic": basic(token)["Authorization"], "bearer": f"Bearer {token}", "bare": token}.items():
        page = http_get(simple_url(endpoint, NAME), headers={"Authorization": value}, accept="text/html")
        assert page.status_code == 200 and wheel.filename in page.text, label
        got = http_get(file_url(endpoint, NAME, "1.0", wheel.filename), headers={"Authorization": value})
        assert got.status_code == 200 and got.content == wheel.content, label


def test_missing_bad_and_foreign_tokens_are_401(client, domain, repo, tmp_path):
    endpoint, token = repo
    wheel = make_wheel(NAME, "1.0")
    upload_ok(endpoint, token, wheel)
    other = unique("t")
    client.create_domain(domain=other)
    refused = {
        "none": None,
        "bad": "not-a-token",
        "tampered": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "other-domain": auth_token(client, other),
    }
    newer = make_wheel(NAME, "2.0")
    for label, bad in refused.items():
        assert_401(http_get(simple_url(endpoint), bad))
        assert_401(http_get(simple_url(endpoint, NAME), bad))
        assert_401(http_get(file_url(endpoint, NAME, "1.0", wheel.filename), bad))
        assert_401(upload(endpoint, bad, newer))
        failed = pip_install_fails(index_url(endpoint, bad), tmp_path / f"site-{label}", f"{NAME}==1.0",
                                   options=("-vv",))
        assert "401" in failed.output, (label, failed.output[-3000:])
        assert installed_version(tmp_path / f"site-{label}", NAME) is None
        if bad is not None:
            twined = twine_upload(endpoint, bad, [newer.write(tmp_path / label)], check=False)
            assert twined.returncode != 0 and "401" in twined.stdout + twined.stderr, label
    assert pypi_versions_in(client, domain, "repo", NAME) == {"1.0": "Published"}


# --------------------------------------------------------------------------- metadata through boto3


def test_describe_dependencies_and_assets(client, domain, repo):
    endpoint, token = repo
    wheel = make_wheel(NAME, "2.0", summary="Packages for everyone", license="MIT",
                       home_page="https://example.com/my-pkg", requires_python=">=3.9",
                       requires_dist=["requests>=2.31", "Zope.Interface>=5", "typing_extensions==4.*"])
    upload_ok(endpoint, token, wheel)

    described = describe_pypi_version(client, domain, "repo", NAME, "2.0")
    assert described["format"] == "pypi"
    assert "namespace" not in described
    assert described["packageName"] == "my-pkg"
    assert described["displayName"] == NAME
    assert described["version"] == "2.0"
    assert described["status"] == "Published"
    assert described["summary"] == "Packages for everyone"
    assert described["homePage"] == "https://example.com/my-pkg"
    assert [lic["name"] for lic in described["licenses"]] == ["MIT"]
    assert described["origin"] == internal_origin("repo")
    assert described["revision"]

    found = sorted((d.get("namespace"), d["package"], d["dependencyType"], d["versionRequirement"])
                   for d in pypi_dependencies(client, domain, "repo", NAME, "2.0"))
    assert found == sorted([
        (None, "requests", "Requires-Dist", ">=2.31"),
        (None, "zope-interface", "Requires-Dist", ">=5"),
        (None, "typing-extensions", "Requires-Dist", "==4.*"),
    ])

    assets = {a["name"]: a for a in pypi_assets(client, domain, "repo", NAME, "2.0")}
    assert set(assets) == {wheel.filename, f"{wheel.filename}.metadata"}
    assert assets[wheel.filename]["size"] == len(wheel.content)
    assert assets[wheel.filename]["hashes"] == asset_hashes(wheel.content)
    assert assets[f"{wheel.filename}.metadata"]["hashes"] == asset_hashes(wheel.metadata)
    assert pypi_asset(client, domain, "repo", NAME, "2.0", f"{wheel.filename}.metadata") == wheel.metadata

    # pypi has no namespace: giving one is refused
    expect_error(client, "ValidationException", 400, client.describe_package_version,
                 **pypi_package(domain, "repo", NAME), namespace="ns", packageVersion="2.0")


# --------------------------------------------------------------------------- statuses and copies


def test_unlisted_is_yanked_and_pip_skips_it_unless_pinned(client, domain, repo, tmp_path):
    endpoint, token = repo
    wheels = {version: make_wheel(NAME, version) for version in ("1.0", "1.1", "1.2")}
    upload_ok(endpoint, token, *wheels.values())
    set_pypi_status(client, domain, "repo", NAME, "1.1", "Unlisted")
    set_pypi_status(client, domain, "repo", NAME, "1.2", "Archived")

    links = anchors_by_text(project_html(endpoint, token).text)
    assert set(links) == {wheels["1.0"].filename, wheels["1.1"].filename}
    assert "data-yanked" in links[wheels["1.1"].filename].attrs
    assert "data-yanked" not in links[wheels["1.0"].filename].attrs
    files = {f["filename"]: f for f in project_json(endpoint, token)["files"]}
    assert files[wheels["1.1"].filename]["yanked"] not in (False, None)
    assert files[wheels["1.0"].filename].get("yanked", False) is False

    index = index_url(endpoint, token)
    pip_install(index, tmp_path / "latest", NAME)
    assert installed_version(tmp_path / "latest", NAME) == "1.0"
    pip_install(index, tmp_path / "pinned", f"{NAME}==1.1")  # PEP 592: a pin still gets a yanked file
    assert installed_version(tmp_path / "pinned", NAME) == "1.1"
    pip_install_fails(index, tmp_path / "archived", f"{NAME}==1.2")

    set_pypi_status(client, domain, "repo", NAME, "1.1", "Published")
    pip_install(index, tmp_path / "back", NAME)
    assert installed_version(tmp_path / "back", NAME) == "1.1"


def test_copy_package_versions(client, domain, tmp_path):
    for name in ("src", "dst"):
        client.create_repository(domain=domain, repository=name)
    source, token = pypi_endpoint(client, domain, "src"), auth_token(client, domain)
    wheel, sdist = make_wheel(NAME, "1.0"), make_sdist(NAME, "1.0")
    upload_ok(source, token, sdist, wheel)
    result = client.copy_package_versions(domain=domain, sourceRepository="src", destinationRepository="dst",
                                          format="pypi", package="my-pkg", versions=["1.0"])
    assert list(result["successfulVersions"]) == ["1.0"] and not result.get("failedVersions"), result
    expect_error(client, "ValidationException", 400, client.copy_package_versions, domain=domain,
                 sourceRepository="src", destinationRepository="dst", format="pypi", namespace="ns",
                 package="my-pkg", versions=["1.0"])

    destination = pypi_endpoint(client, domain, "dst")
    pip_install(index_url(destination, token), tmp_path / "site", "my.pkg==1.0")
    assert installed_version(tmp_path / "site", NAME) == "1.0"
    copied = {a["name"]: a["hashes"] for a in pypi_assets(client, domain, "dst", NAME, "1.0")}
    assert copied == {a["name"]: a["hashes"] for a in pypi_assets(client, domain, "src", NAME, "1.0")}
    assert describe_pypi_version(client, domain, "dst", NAME, "1.0")["displayName"] == NAME


# --------------------------------------------------------------------------- upstreams


def test_two_level_upstream_chain_install_and_retention(client, domain, tmp_path):
    client.create_repository(domain=domain, repository="repo-c")
    client.create_repository(domain=domain, repository="repo-b", upstreams=[{"repositoryName": "repo-c"}])
    client.create_repository(domain=domain, repository="repo-a", upstreams=[{"repositoryName": "repo-b"}])
    token = auth_token(client, domain)
    endpoints = {x: pypi_endpoint(client, domain, f"repo-{x}") for x in "abc"}
    wheels = {v: make_wheel(NAME, v) for v in ("1.0", "2.0")}
    upload_ok(endpoints["c"], token, *wheels.values())
    # a package of a's own (so upstream=BLOCK) that c also has
    own = make_wheel("own-pkg", "0.9")
    upload_ok(endpoints["a"], token, own)
    upload_ok(endpoints["c"], token, make_wheel("own-pkg", "1.0"))

    # the page of a merges the upstream graph
    links = anchors_by_text(project_html(endpoints["a"], token).text)
    assert set(links) == {w.filename for w in wheels.values()}
    pip_install(index_url(endpoints["a"], token), tmp_path / "first", "my.pkg==1.0")
    assert installed_version(tmp_path / "first", NAME) == "1.0"

    # retained in a (the repository asked) with c's origin, not in b
    assert retained(client, domain, "repo-a", NAME, "1.0") == {"1.0": "Published"}
    assert pypi_versions_in(client, domain, "repo-b", NAME) == {}
    assert describe_pypi_version(client, domain, "repo-a", NAME, "1.0")["origin"] == internal_origin("repo-c")
    assert pypi_asset(client, domain, "repo-a", NAME, "1.0", wheels["1.0"].filename) == wheels["1.0"].content

    # upstream=BLOCK on a's own package: c's versions stay out of a
    assert pypi_origin_restrictions(client, domain, "repo-a", "own-pkg") == {"publish": "ALLOW", "upstream": "BLOCK"}
    assert set(anchors_by_text(project_html(endpoints["a"], token, "own-pkg").text)) == {own.filename}
    pip_install_fails(index_url(endpoints["a"], token), tmp_path / "blocked", "own-pkg==1.0")
    set_pypi_origin(client, domain, "repo-a", "own-pkg", publish="ALLOW", upstream="ALLOW")
    pip_install(index_url(endpoints["a"], token), tmp_path / "allowed", "own-pkg==1.0")
    assert installed_version(tmp_path / "allowed", "own-pkg") == "1.0"

    # cut a off from its upstreams: what was retained still installs, the rest is gone
    client.update_repository(domain=domain, repository="repo-a", upstreams=[])
    pip_install(index_url(endpoints["a"], token), tmp_path / "after", "MY-PKG==1.0")
    assert installed_version(tmp_path / "after", NAME) == "1.0"
    pip_install_fails(index_url(endpoints["a"], token), tmp_path / "never", "my-pkg==2.0")


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKENDS)
def test_external_connection_through_a_second_reliquary(backend, tmp_path):
    """`public:pypi` pointed (RELIQUARY_EXTERNAL_PYPI_URL/_TOKEN) at the `simple/` index of a
    second Reliquary standing in for PyPI; what it served is kept and installs once it is gone."""
    with running_server("sqlite", tmp_path / "public") as public:
        public_client = make_client(public.url)
        public_client.create_domain(domain="registry")
        public_client.create_repository(domain="registry", repository="pypi")
        public_endpoint = pypi_endpoint(public_client, "registry", "pypi")
        public_token = auth_token(public_client, "registry")
        wheels = {v: make_wheel(NAME, v, summary="from the public index") for v in ("1.0", "1.1")}
        sdist = make_sdist(NAME, "1.0")
        upload_ok(public_endpoint, public_token, sdist, *wheels.values())

        with running_server_with_env(backend, tmp_path / "private",
                                     RELIQUARY_EXTERNAL_PYPI_URL=simple_url(public_endpoint),
                                     RELIQUARY_EXTERNAL_PYPI_TOKEN=public_token) as private:
            client = make_client(private.url)
            domain = unique("t")
            client.create_domain(domain=domain)
            client.create_repository(domain=domain, repository="pypi-store")
            client.associate_external_connection(domain=domain, repository="pypi-store",
                                                 externalConnection="public:pypi")
            client.create_repository(domain=domain, repository="app", upstreams=[{"repositoryName": "pypi-store"}])
            app, token = pypi_endpoint(client, domain, "app"), auth_token(client, domain)

            links = anchors_by_text(project_html(app, token, "my.pkg").text)
            assert set(links) == {sdist.filename, wheels["1.0"].filename, wheels["1.1"].filename}
            for dist in (sdist, wheels["1.0"], wheels["1.1"]):
                assert split_link(simple_url(app, "my.pkg"), links[dist.filename].href)[1] == f"sha256={dist.sha256}"
            pip_install(index_url(app, token), tmp_path / "first", "My_Pkg==1.0")
            assert installed_version(tmp_path / "first", NAME) == "1.0"

            for repository in ("app", "pypi-store"):
                assert "1.0" in retained(client, domain, repository, NAME, "1.0"), repository
                described = describe_pypi_version(client, domain, repository, NAME, "1.0")
                assert described["origin"] == external_origin(), repository
                assert pypi_asset(client, domain, repository, NAME, "1.0", wheels["1.0"].filename) == \
                    wheels["1.0"].content
            assert pypi_origin_restrictions(client, domain, "pypi-store", NAME) == \
                {"publish": "BLOCK", "upstream": "ALLOW"}

            stop_cleanly(public)

            # the public index is gone: what was fetched still installs (fresh cache: pip keeps none)
            pip_install(index_url(app, token), tmp_path / "again", "my-pkg==1.0")
            assert installed_version(tmp_path / "again", NAME) == "1.0"
            # ... and a version that was never fetched is unavailable, without hanging
            pip_install_fails(index_url(app, token), tmp_path / "never", "my-pkg==1.1")


# --------------------------------------------------------------------------- aws codeartifact login


def login_env(home: Path) -> dict[str, str]:
    """What `aws codeartifact login --tool pip|twine` and the clients after it run with: HOME (and
    XDG_CONFIG_HOME) under `home` — `pip config set` writes the *user* file, `~/.config/pip/pip.conf`,
    and twine's login writes `~/.pypirc` — PIP_CONFIG_FILE=<home>/pip.conf, and the project venv's
    pip first on PATH."""
    home.mkdir(parents=True, exist_ok=True)
    env = hermetic_env(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
                       PIP_CONFIG_FILE=str(home / "pip.conf"))
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def test_aws_codeartifact_login_tool_pip_and_twine(server, client, domain, repo, tmp_path):
    endpoint, _ = repo
    home = tmp_path / "home"
    env = login_env(home)
    cli = AwsCliIn(server.url, extra_env={k: env[k] for k in ("HOME", "XDG_CONFIG_HOME", "PIP_CONFIG_FILE", "PATH")})

    out = cli("codeartifact", "login", "--tool", "twine", "--domain", domain, "--repository", "repo",
              "--region", "us-east-1", output="text")
    assert "Successfully configured twine" in out, out
    pypirc = configparser.ConfigParser()
    pypirc.read(home / ".pypirc")
    assert pypirc["codeartifact"]["repository"] == endpoint
    assert pypirc["codeartifact"]["username"] == "aws"
    wheel = make_wheel(NAME, "1.0")
    run_client(twine_argv("upload", "--non-interactive", "--disable-progress-bar", "-r", "codeartifact",
                          str(wheel.write(tmp_path / "dist"))), env)
    assert pypi_versions_in(client, domain, "repo", NAME) == {"1.0": "Published"}

    out = cli("codeartifact", "login", "--tool", "pip", "--domain", domain, "--repository", "repo",
              "--region", "us-east-1", output="text")
    assert "Successfully configured pip" in out, out
    written = [p for p in (home / "pip.conf", home / ".config" / "pip" / "pip.conf") if p.exists()]
    assert written, f"no pip config under {home}"
    config = configparser.ConfigParser()
    config.read(written)
    assert config["global"]["index-url"].startswith("http://aws:"), config["global"]["index-url"]
    assert config["global"]["index-url"].endswith(endpoint.split("://", 1)[1] + "simple/")
    target = tmp_path / "site"
    run_client(pip_argv("install", "--no-cache-dir", "--target", str(target), "--no-deps", "my.pkg"), env)
    assert installed_version(target, NAME) == "1.0"
