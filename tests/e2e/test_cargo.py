"""The Cargo endpoint driven by the real `cargo` (1.95, sparse registry over plain http) and plain
HTTP, checked through boto3: `config.json` and the 401 challenge, publish → build of a consumer
through a downstream repository with an upstream, yank/unyank (= Unlisted/Published), index lines
(deps with renames, targets, features2), ETag/304, name spellings, immutable versions, bad input in
cargo's error shape with nothing stored, the control plane (dependencies, readme, copy, status,
dispose, delete), origin controls, and `public:crates-io` with a second Reliquary standing in for
crates.io and with a stand-in on 127.0.0.1 (a `dl` template, a `.crate` whose checksum lies).

The endpoint is `GetRepositoryEndpoint(format='cargo')` = `<server>/cargo/d/<domain>-<owner>/<repo>/`.
cargo runs with its own CARGO_HOME (no crates.io: the crates built here depend on nothing else), and
.crate files for plain-HTTP tests are built in code. Each test has its own domain."""

from __future__ import annotations

import http.server
import json
from email.utils import parsedate_to_datetime
import struct
import threading

import pytest
import requests

from cargo_support import (
    CARGO,
    HTTP_TIMEOUT_S,
    Cargo,
    auth_token,
    bearer,
    cargo_endpoint,
    cargo_error,
    cargo_package,
    index_lines,
    index_path,
    make_crate,
    manifest,
    new_crate,
    publish_body,
    publish_ok,
    put_new,
    versions_in,
)
from support import BACKENDS, make_client, running_server, running_server_with_env, sha256_hex, stop_cleanly, unique

pytestmark = pytest.mark.skipif(CARGO is None, reason="cargo is not installed")


@pytest.fixture
def repo(client, domain):
    """A repository `repo` in `domain`: (endpoint, token)."""
    client.create_repository(domain=domain, repository="repo")
    return cargo_endpoint(client, domain, "repo"), auth_token(client, domain)


# --------------------------------------------------------------------------- config.json, auth


def test_config_json_asks_for_the_token_with_a_cargo_challenge(repo):
    endpoint, token = repo
    response = requests.get(endpoint + "config.json", timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Cargo login_url="), response.headers
    assert cargo_error(response, 401)
    base = endpoint.rstrip("/")
    for authorization in (f"Bearer {token}", token):
        response = requests.get(endpoint + "config.json", headers={"Authorization": authorization},
                                timeout=HTTP_TIMEOUT_S)
        assert response.status_code == 200, response.text
        assert response.json() == {"dl": f"{base}/api/v1/crates", "api": base, "auth-required": True}
    response = requests.get(endpoint + "config.json", headers=bearer("not-a-token"), timeout=HTTP_TIMEOUT_S)
    assert cargo_error(response, 401)


# --------------------------------------------------------------------------- the real cargo


def test_cargo_publishes_and_a_consumer_builds_through_an_upstream_and_skips_yanked(client, domain, tmp_path):
    client.create_repository(domain=domain, repository="upstream")
    client.create_repository(domain=domain, repository="app", upstreams=[{"repositoryName": "upstream"}])
    token = auth_token(client, domain)
    publisher = Cargo(tmp_path / "publisher-home", cargo_endpoint(client, domain, "upstream"), token)
    for version in ("0.1.0", "0.2.0"):
        out = publisher.publish(publisher.library(tmp_path, "demo-lib", version))
        assert "Published demo-lib" in out.stderr or "Uploaded demo-lib" in out.stderr, out.stderr

    # no token: cargo is refused, and says why
    anonymous = Cargo(tmp_path / "anonymous-home", cargo_endpoint(client, domain, "upstream"), None)
    refused = anonymous.publish(anonymous.library(tmp_path / "anon", "demo-lib", "0.3.0"), check=False)
    assert refused.returncode != 0
    assert "token" in refused.stderr.lower(), refused.stderr
    assert versions_in(client, domain, "upstream", "demo-lib") == {"0.1.0": "Published", "0.2.0": "Published"}

    # a consumer of `app` builds against the upstream's newest version, which `app` then retains
    builder = Cargo(tmp_path / "builder-home", cargo_endpoint(client, domain, "app"), token)
    consumer = builder.consumer(tmp_path, "demo-lib", "0.1")
    builder.run(["build", "--quiet"], consumer)
    assert builder.locked_version(consumer, "demo-lib") == "0.1.0"
    (consumer / "Cargo.toml").write_text((consumer / "Cargo.toml").read_text().replace('"0.1"', '">=0.1"'))
    builder.run(["generate-lockfile"], consumer)
    assert builder.locked_version(consumer, "demo-lib") == "0.2.0"
    out = builder.run(["run", "--quiet"], consumer)
    assert out.stdout.strip() == "0.2.0"
    assert versions_in(client, domain, "app", "demo-lib") == {"0.1.0": "Published", "0.2.0": "Published"}

    # yank 0.2.0 (cargo yank): a fresh resolution skips it, the lockfile that names it still builds
    publisher.run(["yank", "--registry", "reliq", "demo-lib@0.2.0"], tmp_path)
    assert versions_in(client, domain, "upstream", "demo-lib")["0.2.0"] == "Unlisted"
    builder.run(["build", "--quiet"], consumer)  # locked to 0.2.0: still downloadable
    other = Cargo(tmp_path / "other-home", cargo_endpoint(client, domain, "upstream"), token)
    fresh = other.consumer(tmp_path / "fresh", "demo-lib", ">=0.1")
    other.run(["generate-lockfile"], fresh)
    assert other.locked_version(fresh, "demo-lib") == "0.1.0"
    publisher.run(["yank", "--undo", "--registry", "reliq", "demo-lib@0.2.0"], tmp_path)
    assert versions_in(client, domain, "upstream", "demo-lib")["0.2.0"] == "Published"
    other.run(["generate-lockfile"], fresh)
    assert other.locked_version(fresh, "demo-lib") == "0.2.0"


# --------------------------------------------------------------------------- index files


def test_index_lines_carry_what_cargo_needs(client, domain, repo):
    endpoint, token = repo
    deps = [
        {"name": "helper", "version_req": "^1.2", "features": ["x"], "optional": True, "default_features": False,
         "target": "cfg(unix)", "kind": "normal", "registry": None, "explicit_name_in_toml": "helper_renamed"},
        {"name": "serde", "version_req": "^1", "features": [], "optional": False, "default_features": True,
         "target": None, "kind": "dev", "registry": "https://github.com/rust-lang/crates.io-index"},
        {"name": "cc", "version_req": "^1", "features": [], "optional": False, "default_features": True,
         "target": None, "kind": "build", "registry": None},
    ]
    features = {"default": ["std"], "std": [], "extra": ["dep:helper_renamed"]}
    crate = publish_ok(endpoint, token, "Index_Demo", "1.0.0", deps=deps, features=features,
                       links="idx", rust_version="1.70")
    line = index_lines(endpoint, token, "index_demo")["1.0.0"]
    assert line == {
        "name": "Index_Demo", "vers": "1.0.0", "cksum": sha256_hex(crate), "yanked": False, "links": "idx",
        "rust_version": "1.70", "v": 2,
        "features": {"default": ["std"], "std": []}, "features2": {"extra": ["dep:helper_renamed"]},
        "deps": [
            {"name": "helper_renamed", "package": "helper", "req": "^1.2", "features": ["x"], "optional": True,
             "default_features": False, "target": "cfg(unix)", "kind": "normal", "registry": None},
            {"name": "serde", "req": "^1", "features": [], "optional": False, "default_features": True,
             "target": None, "kind": "dev", "registry": "https://github.com/rust-lang/crates.io-index"},
            {"name": "cc", "req": "^1", "features": [], "optional": False, "default_features": True,
             "target": None, "kind": "build", "registry": None},
        ],
    }

    # the version is there at once; the file answers 304 to its ETag and changes with the next publish
    url = endpoint + index_path("index_demo")
    first = requests.get(url, headers=bearer(token), timeout=HTTP_TIMEOUT_S)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    again = requests.get(url, headers={**bearer(token), "If-None-Match": etag}, timeout=HTTP_TIMEOUT_S)
    assert again.status_code == 304 and again.headers["ETag"] == etag
    since = requests.get(url, headers={**bearer(token), "If-Modified-Since": modified}, timeout=HTTP_TIMEOUT_S)
    assert since.status_code == 304 and since.headers["Last-Modified"] == modified
    publish_ok(endpoint, token, "Index_Demo", "1.1.0")
    changed = requests.get(url, headers={**bearer(token), "If-None-Match": etag}, timeout=HTTP_TIMEOUT_S)
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    # in the same second too, the new file has a later Last-Modified: If-Modified-Since sees it
    assert parsedate_to_datetime(changed.headers["Last-Modified"]) > parsedate_to_datetime(modified)
    newer = requests.get(url, headers={**bearer(token), "If-Modified-Since": modified}, timeout=HTTP_TIMEOUT_S)
    assert newer.status_code == 200 and newer.text == changed.text
    assert [json.loads(l)["vers"] for l in changed.text.splitlines()] == ["1.0.0", "1.1.0"]
    assert "v" in json.loads(changed.text.splitlines()[1]) and "features2" not in json.loads(changed.text.splitlines()[1])

    # names: any case, and `-` for `_`, read the same crate; one crate per spelling class
    for spelling in ("INDEX_DEMO", "index-demo", "Index-Demo"):
        assert set(index_lines(endpoint, token, spelling)) == {"1.0.0", "1.1.0"}, spelling
        download = requests.get(f"{endpoint}api/v1/crates/{spelling}/1.0.0/download", headers=bearer(token),
                                timeout=HTTP_TIMEOUT_S)
        assert download.status_code == 200 and download.content == crate, spelling
    detail = cargo_error(put_new(endpoint, token, publish_body(new_crate("index-demo", "2.0.0"),
                                                               make_crate("index-demo", "2.0.0"))), 409)
    assert "index_demo" in detail
    detail = cargo_error(put_new(endpoint, token, publish_body(new_crate("INDEX_DEMO", "3.0.0"),
                                                               make_crate("INDEX_DEMO", "3.0.0"))), 409)
    assert "Index_Demo" in detail
    listed = client.list_packages(domain=domain, repository="repo", format="cargo")["packages"]
    assert [(p["format"], p.get("namespace"), p["package"]) for p in listed] == [("cargo", None, "index_demo")]

    # paths outside the layout, and crates nobody has, are cargo-shaped 404s
    for path in ("in/de/other", "in/dex_demo", "index_demo", "3/x/abc", "ab/cd/../../x"):
        response = requests.get(endpoint + path, headers=bearer(token), timeout=HTTP_TIMEOUT_S)
        assert cargo_error(response, 404), path
    assert cargo_error(requests.get(endpoint + index_path("nobody-has-it"), headers=bearer(token),
                                    timeout=HTTP_TIMEOUT_S), 404)


# --------------------------------------------------------------------------- publish rules, bad input


def test_versions_are_immutable_and_bad_publishes_store_nothing(client, domain, repo):
    endpoint, token = repo
    crate = publish_ok(endpoint, token, "solid", "1.0.0")
    # the same bytes again: accepted; other bytes under the same version: 409
    assert put_new(endpoint, token, publish_body(new_crate("solid", "1.0.0"), crate)).status_code == 200
    other = make_crate("solid", "1.0.0", files={"src/extra.rs": b"// changed\n"})
    assert "different content" in cargo_error(put_new(endpoint, token, publish_body(new_crate("solid", "1.0.0"), other)), 409)
    download = requests.get(endpoint + "api/v1/crates/solid/1.0.0/download", headers=bearer(token),
                            timeout=HTTP_TIMEOUT_S)
    assert download.status_code == 200 and download.content == crate
    assert download.headers["Content-Type"] == "application/gzip"

    good_meta = new_crate("broken", "1.0.0")
    good_crate = make_crate("broken", "1.0.0")
    meta_bytes = json.dumps(good_meta).encode()
    cases = {
        "not gzip": (publish_body(good_meta, b"this is not a gzip stream at all"), 400, "gzip"),
        "name disagrees": (publish_body(good_meta, make_crate("broken", "1.0.0", toml=manifest("other", "1.0.0"))), 400, "name"),
        "version disagrees": (publish_body(good_meta, make_crate("broken", "1.0.0", toml=manifest("broken", "9.9.9"))), 400, "version"),
        "no manifest": (publish_body(good_meta, make_crate("elsewhere", "1.0.0")), 400, "Cargo.toml"),
        "truncated json prefix": (b"\x10\x00", 400, "ended"),
        "truncated json": (struct.pack("<I", len(meta_bytes) + 50) + meta_bytes, 400, "ended"),
        "truncated crate": (publish_body(good_meta, good_crate)[:-10], 400, "ended"),
        "missing crate prefix": (struct.pack("<I", len(meta_bytes)) + meta_bytes, 400, "ended"),
        "json too large": (struct.pack("<I", 64 * 1024 * 1024) + b"{}", 413, "metadata"),
        "not json": (struct.pack("<I", 3) + b"{{{" + struct.pack("<I", 0), 400, "JSON"),
        "reserved name": (publish_body(new_crate("nul", "1.0.0"), make_crate("nul", "1.0.0")), 400, "reserved"),
        "bad characters": (publish_body(new_crate("bro ken", "1.0.0"), good_crate), 400, "may only contain"),
        "leading digit": (publish_body(new_crate("1broken", "1.0.0"), good_crate), 400, "start with"),
        "not semver": (publish_body(new_crate("broken", "1.0"), good_crate), 400, "semantic version"),
    }
    for case, (body, status, words) in cases.items():
        detail = cargo_error(put_new(endpoint, token, body), status)
        assert words.lower() in detail.lower(), (case, detail)
    for name in ("broken", "nul", "1broken", "other"):
        assert versions_in(client, domain, "repo", name) == {}, name
    assert cargo_error(put_new(endpoint, None, publish_body(good_meta, good_crate)), 401)
    assert cargo_error(requests.post(endpoint + "api/v1/crates/new", headers=bearer(token), timeout=HTTP_TIMEOUT_S), 404)


# --------------------------------------------------------------------------- the control plane


def test_control_plane_reads_and_changes_cargo_versions(client, domain, repo):
    endpoint, token = repo
    deps = [{"name": "helper", "version_req": "^1", "features": [], "optional": False, "default_features": True,
             "target": None, "kind": "normal", "registry": None},
            {"name": "serde", "version_req": "^1.0.100", "features": [], "optional": False, "default_features": True,
             "target": None, "kind": "dev", "registry": None, "explicit_name_in_toml": "serde_renamed"}]
    publish_ok(endpoint, token, "plane", "1.0.0", deps=deps, files={"README.md": b"# Plane\n\nfrom the crate\n"})
    publish_ok(endpoint, token, "plane", "1.1.0")
    package = cargo_package(domain, "repo", "plane")

    described = client.describe_package_version(**package, packageVersion="1.0.0")["packageVersion"]
    assert described["format"] == "cargo" and "namespace" not in described
    assert described["displayName"] == "plane" and described["summary"] == "plane for tests"
    assert described["licenses"] == [{"name": "MIT"}]
    dependencies = client.list_package_version_dependencies(**package, packageVersion="1.0.0")["dependencies"]
    assert [(d["package"], d["dependencyType"], d["versionRequirement"]) for d in dependencies] == \
        [("helper", "normal", "^1"), ("serde", "dev", "^1.0.100")]
    readme = client.get_package_version_readme(**package, packageVersion="1.0.0")
    assert readme["readme"] == "# Plane\n\nfrom the crate\n"
    assets = client.list_package_version_assets(**package, packageVersion="1.0.0")["assets"]
    assert [a["name"] for a in assets] == ["plane-1.0.0.crate"]

    # status: Unlisted = yanked in the index; Archived and Disposed leave it
    client.update_package_versions_status(**package, versions=["1.0.0"], targetStatus="Unlisted")
    assert index_lines(endpoint, token, "plane")["1.0.0"]["yanked"] is True
    response = requests.delete(endpoint + "api/v1/crates/plane/1.0.0/yank", headers=bearer(token), timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert cargo_error(requests.delete(endpoint + "api/v1/crates/plane/9.9.9/yank", headers=bearer(token),
                                       timeout=HTTP_TIMEOUT_S), 404)
    client.update_package_versions_status(**package, versions=["1.0.0"], targetStatus="Archived")
    assert set(index_lines(endpoint, token, "plane")) == {"1.1.0"}
    download = requests.get(endpoint + "api/v1/crates/plane/1.0.0/download", headers=bearer(token), timeout=HTTP_TIMEOUT_S)
    assert cargo_error(download, 404)
    unyank = requests.put(endpoint + "api/v1/crates/plane/1.0.0/unyank", headers=bearer(token), timeout=HTTP_TIMEOUT_S)
    assert "Archived" in cargo_error(unyank, 409)
    client.dispose_package_versions(**package, versions=["1.0.0"])
    assert set(index_lines(endpoint, token, "plane")) == {"1.1.0"}

    # copy into another repository, then delete there
    client.create_repository(domain=domain, repository="copy")
    copied = client.copy_package_versions(domain=domain, sourceRepository="repo", destinationRepository="copy",
                                          format="cargo", package="plane", versions=["1.1.0"])
    assert set(copied["successfulVersions"]) == {"1.1.0"}
    copy_endpoint = cargo_endpoint(client, domain, "copy")
    assert set(index_lines(copy_endpoint, token, "plane")) == {"1.1.0"}
    client.delete_package_versions(**cargo_package(domain, "copy", "plane"), versions=["1.1.0"])
    assert cargo_error(requests.get(copy_endpoint + index_path("plane"), headers=bearer(token),
                                    timeout=HTTP_TIMEOUT_S), 404)
    client.delete_package(**package)
    assert cargo_error(requests.get(endpoint + index_path("plane"), headers=bearer(token), timeout=HTTP_TIMEOUT_S), 404)


# --------------------------------------------------------------------------- public:crates-io


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKENDS)
def test_crates_io_connection_through_a_second_reliquary(backend, tmp_path):
    """`public:crates-io` pointed (RELIQUARY_EXTERNAL_CRATES_IO_URL/_TOKEN) at the sparse index of a
    second Reliquary standing in for crates.io (its `config.json` gives the download URL); what
    cargo fetched is kept in the store repository and retained downstream, and builds once the
    public registry is gone."""
    with running_server("sqlite", tmp_path / "public") as public:
        public_client = make_client(public.url)
        public_client.create_domain(domain="registry")
        public_client.create_repository(domain="registry", repository="crates")
        public_endpoint = cargo_endpoint(public_client, "registry", "crates")
        public_token = auth_token(public_client, "registry")
        crates = {v: publish_ok(public_endpoint, public_token, "far-away", v) for v in ("1.0.0", "1.1.0")}

        with running_server_with_env(backend, tmp_path / "private",
                                     RELIQUARY_EXTERNAL_CRATES_IO_URL=public_endpoint,
                                     RELIQUARY_EXTERNAL_CRATES_IO_TOKEN=public_token) as private:
            client = make_client(private.url)
            domain = unique("t")
            client.create_domain(domain=domain)
            client.create_repository(domain=domain, repository="cargo-store")
            client.associate_external_connection(domain=domain, repository="cargo-store",
                                                 externalConnection="public:crates-io")
            client.create_repository(domain=domain, repository="app", upstreams=[{"repositoryName": "cargo-store"}])
            app, token = cargo_endpoint(client, domain, "app"), auth_token(client, domain)

            lines = index_lines(app, token, "far-away")
            assert set(lines) == {"1.0.0", "1.1.0"}
            assert lines["1.0.0"]["cksum"] == sha256_hex(crates["1.0.0"])

            builder = Cargo(tmp_path / "home", app, token)
            consumer = builder.consumer(tmp_path, "far-away", "=1.0.0")
            out = builder.run(["run", "--quiet"], consumer)
            assert out.stdout.strip() == "1.0.0"
            for repository in ("app", "cargo-store"):
                assert versions_in(client, domain, repository, "far-away") == {"1.0.0": "Published"}, repository
            described = client.describe_package_version(**cargo_package(domain, "cargo-store", "far-away"),
                                                        packageVersion="1.0.0")["packageVersion"]
            assert described["origin"]["originType"] == "EXTERNAL"

            stop_cleanly(public)

            # the public registry is gone: what was fetched still builds, from a fresh cargo home
            again = Cargo(tmp_path / "home-again", app, token)
            consumer2 = again.consumer(tmp_path / "again", "far-away", "=1.0.0")
            assert again.run(["run", "--quiet"], consumer2).stdout.strip() == "1.0.0"
            response = requests.get(app + "api/v1/crates/far-away/1.1.0/download", headers=bearer(token),
                                    timeout=HTTP_TIMEOUT_S)
            assert cargo_error(response, 404)


def test_origin_controls_apply_to_cargo_publishes(client, domain, tmp_path):
    client.create_repository(domain=domain, repository="base")
    client.create_repository(domain=domain, repository="top", upstreams=[{"repositoryName": "base"}])
    token = auth_token(client, domain)
    base, top = cargo_endpoint(client, domain, "base"), cargo_endpoint(client, domain, "top")
    publish_ok(base, token, "guarded", "1.0.0")
    publish_ok(top, token, "guarded", "2.0.0")
    # top's package was published first: upstream BLOCK, so base's 1.0.0 is not in top's index
    assert set(index_lines(top, token, "guarded")) == {"2.0.0"}
    client.put_package_origin_configuration(**cargo_package(domain, "top", "guarded"),
                                            restrictions={"publish": "ALLOW", "upstream": "ALLOW"})
    assert set(index_lines(top, token, "guarded")) == {"1.0.0", "2.0.0"}
    # a version the upstream has cannot be published downstream while upstreams are allowed
    body = publish_body(new_crate("guarded", "1.0.0"), make_crate("guarded", "1.0.0", files={"x": b"y"}))
    assert "upstream" in cargo_error(put_new(top, token, body), 409)
    client.put_package_origin_configuration(**cargo_package(domain, "top", "guarded"),
                                            restrictions={"publish": "BLOCK", "upstream": "ALLOW"})
    body = publish_body(new_crate("guarded", "3.0.0"), make_crate("guarded", "3.0.0"))
    assert "blocked" in cargo_error(put_new(top, token, body), 403).lower()
    assert versions_in(client, domain, "top", "guarded") == {"2.0.0": "Published"}


class StandIn:
    """A crates.io stand-in on 127.0.0.1 (a thread): `config.json` whose `dl` is a template, one index
    file, and `.crate` files; it records the paths it was asked for."""

    def __init__(self, name: str, crates: dict[str, bytes], cksums: dict[str, str]):
        lines = "".join(json.dumps({"name": name, "vers": v, "deps": [], "cksum": cksums[v], "features": {},
                                    "yanked": False, "links": None, "v": 1}) + "\n" for v in crates)
        self.asked: list[str] = []
        stand_in = self
        files = {f"/{index_path(name)}": lines.encode()}
        files.update({f"/files/{name}/{name}-{v}.crate": body for v, body in crates.items()})

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                stand_in.asked.append(self.path)
                if self.path == "/config.json":
                    body = json.dumps({"dl": f"{stand_in.url}/files/{{crate}}/{{crate}}-{{version}}.crate"}).encode()
                else:
                    body = files.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKENDS)
def test_crates_io_stand_in_with_a_dl_template_and_a_checksum_that_lies(backend, tmp_path):
    good, bad = make_crate("stand-in", "1.0.0"), make_crate("stand-in", "2.0.0")
    stand_in = StandIn("stand-in", {"1.0.0": good, "2.0.0": bad},
                       {"1.0.0": sha256_hex(good), "2.0.0": sha256_hex(b"something else")})
    try:
        with running_server_with_env(backend, tmp_path / "private",
                                     RELIQUARY_EXTERNAL_CRATES_IO_URL=stand_in.url) as private:
            client = make_client(private.url)
            domain = unique("t")
            client.create_domain(domain=domain)
            client.create_repository(domain=domain, repository="cargo-store")
            client.associate_external_connection(domain=domain, repository="cargo-store",
                                                 externalConnection="public:crates-io")
            endpoint, token = cargo_endpoint(client, domain, "cargo-store"), auth_token(client, domain)
            assert set(index_lines(endpoint, token, "stand-in")) == {"1.0.0", "2.0.0"}
            ok = requests.get(endpoint + "api/v1/crates/stand-in/1.0.0/download", headers=bearer(token),
                              timeout=HTTP_TIMEOUT_S)
            assert ok.status_code == 200 and ok.content == good
            # the registry's .crate does not have the checksum its index gives: refused, not kept
            lying = requests.get(endpoint + "api/v1/crates/stand-in/2.0.0/download", headers=bearer(token),
                                 timeout=HTTP_TIMEOUT_S)
            assert "digest" in cargo_error(lying, 409)
            assert versions_in(client, domain, "cargo-store", "stand-in") == {"1.0.0": "Published"}
            # names that break the registry's rules are never asked of it
            assert cargo_error(requests.get(endpoint + "api/v1/crates/..%2F..%2Fx/1.0.0/download",
                                            headers=bearer(token), timeout=HTTP_TIMEOUT_S), 404)
            assert "/config.json" in stand_in.asked
            assert "/files/stand-in/stand-in-1.0.0.crate" in stand_in.asked
            assert all(p.startswith(("/config.json", "/st/an/stand-in", "/files/stand-in/")) for p in stand_in.asked), \
                stand_in.asked
    finally:
        stand_in.close()
