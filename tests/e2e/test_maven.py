"""The Maven endpoint driven by the real `mvn` (3.8.7, Debian's plugin packages through a
`file:///usr/share/maven-repo` mirror that leaves the `reliquary` repository alone) and by plain
HTTP, checked through boto3: `mvn deploy` of a library, a consumer built through a downstream
repository with two upstreams, one holding the library and one with `public:maven-central`
(retention, ingestion), SNAPSHOTs deployed twice and resolved to the newest
build, checksum sidecars, Unfinished until `maven-metadata.xml`, the generated metadata, POM
fields and dependencies, lifecycle operations, refused input, and `public:maven-central` pointed
at a local file server standing in for Maven Central.

One server per backend for the module (with RELIQUARY_EXTERNAL_MAVEN_CENTRAL_URL set); each test
has its own domain. The endpoint is `GetRepositoryEndpoint(format='maven')` =
`<server>/maven/d/<domain>-<owner>/<repo>/`."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import os
import shutil
import socket
import subprocess
import threading
import zipfile
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from support import BACKENDS, make_client, running_server_with_env, unique, write_config

MVN = shutil.which("mvn")
PLUGIN_REPO = Path("/usr/share/maven-repo")
GROUP = "com.example.e2e"
GROUP_PATH = GROUP.replace(".", "/")
LIB = "greeter"
TIMEOUT = 30
ASSET_SIZE_LIMIT = 1_000_000  # the module's server: a file over it is refused
BODY_TIMEOUT_S = 2  # the module's server: a body that stops this long is cut off

needs_mvn = pytest.mark.skipif(MVN is None, reason="mvn is not installed")


# --------------------------------------------------------------------------- fixtures


class Central(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def jar_bytes(note: str) -> bytes:
    """A valid (empty) jar: a consumer's javac reads it from its classpath."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", f"Manifest-Version: 1.0\nX-Note: {note}\n")
    return buffer.getvalue()


def central_tree(root: Path) -> dict[str, bytes]:
    """A Maven Central stand-in: org.central:thing 1.0 (good), 2.0 (a jar whose .sha1 lies) and a
    1.0-SNAPSHOT (never to be ingested)."""
    files: dict[str, bytes] = {}
    base = "org/central/thing"
    for version in ("1.0", "2.0"):
        pom = pom_xml("org.central", "thing", version, name="Thing from Central").encode()
        jar = jar_bytes(f"thing {version}")
        files[f"{base}/{version}/thing-{version}.pom"] = pom
        files[f"{base}/{version}/thing-{version}.pom.sha1"] = sha1(pom).encode()
        files[f"{base}/{version}/thing-{version}.jar"] = jar
        files[f"{base}/{version}/thing-{version}.jar.sha1"] = (sha1(jar) if version == "1.0" else "0" * 40).encode()
    snap = b"snapshot jar"
    files[f"{base}/1.0-SNAPSHOT/thing-1.0-20200101.000000-1.jar"] = snap
    files[f"{base}/1.0-SNAPSHOT/thing-1.0-20200101.000000-1.jar.sha1"] = sha1(snap).encode()
    files[f"{base}/maven-metadata.xml"] = (
        "<?xml version='1.0'?><metadata><groupId>org.central</groupId><artifactId>thing</artifactId>"
        "<versioning><latest>2.0</latest><release>2.0</release><versions><version>1.0</version>"
        "<version>2.0</version><version>1.0-SNAPSHOT</version></versions>"
        "<lastUpdated>20200101000000</lastUpdated></versioning></metadata>").encode()
    files["org/central/maven-metadata.xml"] = (
        "<metadata><plugins><plugin><name>Thing Plugin</name><prefix>thing</prefix>"
        "<artifactId>thing-maven-plugin</artifactId></plugin></plugins></metadata>").encode()
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return files


@pytest.fixture(scope="module")
def central(tmp_path_factory):
    root = tmp_path_factory.mktemp("central")
    files = central_tree(root / "maven2")
    handler = lambda *a, **k: Central(*a, directory=str(root), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/maven2", files
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module", params=BACKENDS, ids=BACKENDS)
def mserver(request, tmp_path_factory, central):
    url, _ = central
    workdir = tmp_path_factory.mktemp(f"maven-{request.param}")
    config = write_config(workdir / "reliquary.toml",
                          {"domains_per_account": 1000, "asset_size_bytes": ASSET_SIZE_LIMIT})
    with running_server_with_env(request.param, workdir, RELIQUARY_EXTERNAL_MAVEN_CENTRAL_URL=url,
                                 RELIQUARY_CONFIG=str(config),
                                 RELIQUARY_BODY_TIMEOUT_SECONDS=str(BODY_TIMEOUT_S)) as running:
        yield running


@pytest.fixture(scope="module")
def mclient(mserver):
    return make_client(mserver.url)


@pytest.fixture
def mdomain(mclient):
    name = unique("m")
    mclient.create_domain(domain=name)
    return name


# --------------------------------------------------------------------------- helpers


def endpoint(client, domain: str, repository: str) -> str:
    url = client.get_repository_endpoint(domain=domain, repository=repository, format="maven")["repositoryEndpoint"]
    assert url.endswith("/"), url
    return url


def token_of(client, domain: str) -> str:
    return client.get_authorization_token(domain=domain)["authorizationToken"]


def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"aws:{token}".encode()).decode()}


def put(url: str, token: str, data: bytes) -> requests.Response:
    return requests.put(url, data=data, headers=basic(token), timeout=TIMEOUT)


def get(url: str, token: str | None, method: str = "GET") -> requests.Response:
    return requests.request(method, url, headers=basic(token) if token else {}, timeout=TIMEOUT)


def coords(domain: str, repository: str, artifact: str = LIB, group: str = GROUP) -> dict:
    return {"domain": domain, "repository": repository, "format": "maven", "namespace": group, "package": artifact}


def statuses(client, domain: str, repository: str, artifact: str = LIB, group: str = GROUP) -> dict[str, str]:
    try:
        versions = client.list_package_versions(**coords(domain, repository, artifact, group))["versions"]
    except client.exceptions.ResourceNotFoundException:
        return {}
    return {v["version"]: v["status"] for v in versions}


def asset_names(client, domain: str, repository: str, version: str, artifact: str = LIB, group: str = GROUP) -> set[str]:
    listed = client.list_package_version_assets(**coords(domain, repository, artifact, group), packageVersion=version)
    return {a["name"] for a in listed["assets"]}


def metadata_versions(xml: bytes) -> list[str]:
    root = ET.fromstring(xml)
    return [v.text for v in root.iterfind("versioning/versions/version")]


def pom_xml(group: str, artifact: str, version: str, name: str = "Greeter", extra: str = "") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>{group}</groupId>
  <artifactId>{artifact}</artifactId>
  <version>{version}</version>
  <packaging>jar</packaging>
  <name>{name}</name>
  <description>Says hello</description>
  <url>https://example.com/greeter</url>
  <licenses><license><name>Apache-2.0</name><url>https://www.apache.org/licenses/LICENSE-2.0</url></license></licenses>
  <scm><url>https://git.example.com/greeter</url></scm>
  <properties>
    <maven.compiler.source>17</maven.compiler.source>
    <maven.compiler.target>17</maven.compiler.target>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
{extra}
</project>
"""


def settings_xml(path: Path, token: str, local: str = "m2") -> Path:
    """Settings with their own local repository (`local`, beside them): a consumer built with
    other settings than the library's deploy finds nothing installed and resolves from the server."""
    path.write_text(f"""<settings>
  <localRepository>{path.parent / local}</localRepository>
  <mirrors><mirror><id>debian</id><mirrorOf>*,!reliquary</mirrorOf><url>file://{PLUGIN_REPO}</url></mirror></mirrors>
  <servers><server><id>reliquary</id><username>aws</username><password>{token}</password></server></servers>
</settings>
""")
    return path


def mvn(project: Path, settings: Path, *goals: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAVEN_")}
    result = subprocess.run([MVN, "-B", "-s", str(settings), "-Dmaven.test.skip=true", *goals],
                            cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result


def library(root: Path, version: str, deploy_to: str, greeting: str) -> Path:
    """A one-class library project deploying to `deploy_to` (releases and snapshots)."""
    extra = f"""  <dependencies>
    <dependency><groupId>junit</groupId><artifactId>junit</artifactId><version>4.13.2</version><scope>test</scope></dependency>
  </dependencies>
  <distributionManagement>
    <repository><id>reliquary</id><url>{deploy_to}</url></repository>
    <snapshotRepository><id>reliquary</id><url>{deploy_to}</url></snapshotRepository>
  </distributionManagement>"""
    (root / "src/main/java/com/example/e2e").mkdir(parents=True, exist_ok=True)
    (root / "src/main/java/com/example/e2e/Greeter.java").write_text(
        f'package com.example.e2e;\npublic class Greeter {{ public static String greet() {{ return "{greeting}"; }} }}\n')
    (root / "pom.xml").write_text(pom_xml(GROUP, LIB, version, extra=extra))
    return root


def consumer(root: Path, version: str, resolve_from: str, also: str = "") -> Path:
    """A project whose code calls the library, resolved from `resolve_from` only (`also`: more
    `<dependency>` elements)."""
    extra = f"""  <dependencies>
    <dependency><groupId>{GROUP}</groupId><artifactId>{LIB}</artifactId><version>{version}</version></dependency>
    {also}
  </dependencies>
  <repositories>
    <repository><id>reliquary</id><url>{resolve_from}</url>
      <releases><enabled>true</enabled></releases>
      <snapshots><enabled>true</enabled><updatePolicy>always</updatePolicy></snapshots>
    </repository>
  </repositories>"""
    (root / "src/main/java/com/example/app").mkdir(parents=True, exist_ok=True)
    (root / "src/main/java/com/example/app/App.java").write_text(
        "package com.example.app;\npublic class App { public static void main(String[] a) {"
        " System.out.println(com.example.e2e.Greeter.greet()); } }\n")
    (root / "pom.xml").write_text(pom_xml("com.example.app", "app", "1.0", name="App", extra=extra))
    return root


# --------------------------------------------------------------------------- mvn end to end


@needs_mvn
def test_mvn_deploy_then_a_consumer_builds_through_an_upstream(mclient, mdomain, central, tmp_path):
    """The library is deployed to `libs`; the consumer resolves from `app`, whose upstreams are
    `libs` and `central-store` (public:maven-central, the local stand-in): it gets the library
    from one and org.central:thing from the other."""
    client, domain = mclient, mdomain
    _, central_files = central
    client.create_repository(domain=domain, repository="libs")
    client.create_repository(domain=domain, repository="central-store")
    client.associate_external_connection(domain=domain, repository="central-store",
                                         externalConnection="public:maven-central")
    client.create_repository(domain=domain, repository="app", upstreams=[{"repositoryName": "libs"},
                                                                         {"repositoryName": "central-store"}])
    token = token_of(client, domain)
    libs, app = endpoint(client, domain, "libs"), endpoint(client, domain, "app")
    settings = settings_xml(tmp_path / "settings.xml", token)

    mvn(library(tmp_path / "lib", "1.0", libs, "hello 1.0"), settings, "deploy")
    assert statuses(client, domain, "libs") == {"1.0": "Published"}
    # checksum sidecars are checked, never stored
    assert asset_names(client, domain, "libs", "1.0") == {"greeter-1.0.jar", "greeter-1.0.pom"}
    described = client.describe_package_version(**coords(domain, "libs"), packageVersion="1.0")["packageVersion"]
    assert described["displayName"] == "Greeter"
    assert described["summary"] == "Says hello"
    assert described["homePage"] == "https://example.com/greeter"
    assert described["sourceCodeRepository"] == "https://git.example.com/greeter"
    assert described["licenses"] == [{"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"}]
    deps = client.list_package_version_dependencies(**coords(domain, "libs"), packageVersion="1.0")["dependencies"]
    assert [(d["namespace"], d["package"], d["dependencyType"], d["versionRequirement"]) for d in deps] == \
        [("junit", "junit", "test", "4.13.2")]

    # served files and checksums, from the stored hashes
    jar_url = f"{libs}{GROUP_PATH}/{LIB}/1.0/{LIB}-1.0.jar"
    jar = get(jar_url, token)
    assert jar.status_code == 200
    assert get(jar_url + ".sha1", token).text == sha1(jar.content)
    assert get(jar_url + ".md5", token).text == hashlib.md5(jar.content).hexdigest()
    head = get(jar_url, token, "HEAD")
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(jar.content)
    metadata = get(f"{libs}{GROUP_PATH}/{LIB}/maven-metadata.xml", token)
    assert metadata.status_code == 200 and metadata_versions(metadata.content) == ["1.0"]
    assert get(f"{libs}{GROUP_PATH}/{LIB}/maven-metadata.xml.sha1", token).text == sha1(metadata.content)

    # a consumer resolves through app -> libs and app -> central-store; retained in app
    thing = "<dependency><groupId>org.central</groupId><artifactId>thing</artifactId><version>1.0</version></dependency>"
    project = consumer(tmp_path / "app", "1.0", app, also=thing)
    mvn(project, settings_xml(tmp_path / "consumer.xml", token, "m2-consumer"), "package")
    assert (tmp_path / f"m2-consumer/{GROUP_PATH}/{LIB}/1.0/{LIB}-1.0.jar").read_bytes() == jar.content
    assert (tmp_path / "m2-consumer/org/central/thing/1.0/thing-1.0.jar").read_bytes() == \
        central_files["org/central/thing/1.0/thing-1.0.jar"]
    assert statuses(client, domain, "app") == {"1.0": "Published"}
    origin = client.describe_package_version(**coords(domain, "app"), packageVersion="1.0")["packageVersion"]["origin"]
    assert origin["domainEntryPoint"] == {"repositoryName": "libs"}
    for repository in ("app", "central-store"):
        assert statuses(client, domain, repository, "thing", "org.central") == {"1.0": "Published"}, repository
    assert statuses(client, domain, "libs", "thing", "org.central") == {}


@needs_mvn
def test_snapshot_deployed_twice_resolves_to_the_newest_build(mclient, mdomain, tmp_path):
    client, domain = mclient, mdomain
    client.create_repository(domain=domain, repository="snaps")
    token = token_of(client, domain)
    snaps = endpoint(client, domain, "snaps")
    settings = settings_xml(tmp_path / "settings.xml", token)
    version = "2.0-SNAPSHOT"

    mvn(library(tmp_path / "lib", version, snaps, "first build"), settings, "deploy")
    mvn(library(tmp_path / "lib", version, snaps, "second build"), settings, "deploy")
    assert statuses(client, domain, "snaps") == {version: "Published"}
    names = asset_names(client, domain, "snaps", version)
    jars = sorted(n for n in names if n.endswith(".jar"))
    assert len(jars) == 2 and jars[0].endswith("-1.jar") and jars[1].endswith("-2.jar"), names

    version_dir = f"{snaps}{GROUP_PATH}/{LIB}/{version}/"
    meta = ET.fromstring(get(version_dir + "maven-metadata.xml", token).content)
    assert meta.findtext("versioning/snapshot/buildNumber") == "2"
    assert {v.findtext("value") for v in meta.iterfind("versioning/snapshotVersions/snapshotVersion")} == \
        {jars[1][len(LIB) + 1:-len(".jar")]}
    artifact_meta = get(f"{snaps}{GROUP_PATH}/{LIB}/maven-metadata.xml", token).content
    assert metadata_versions(artifact_meta) == [version]
    # the older build stays downloadable; the non-timestamped name is the newest build
    assert get(version_dir + jars[0], token).status_code == 200
    newest = get(version_dir + jars[1], token).content
    assert get(version_dir + f"{LIB}-{version}.jar", token).content == newest
    assert get(version_dir + f"{LIB}-{version}.jar.sha1", token).text == sha1(newest)

    project = consumer(tmp_path / "app", version, snaps)
    mvn(project, settings_xml(tmp_path / "consumer.xml", token, "m2-consumer"), "package")
    resolved = (tmp_path / f"m2-consumer/{GROUP_PATH}/{LIB}/{version}/{LIB}-{version}.jar").read_bytes()
    assert resolved == get(version_dir + jars[1], token).content

    # a build being deployed is served only once its version-level document names it
    build3 = "2.0-29991231.235959-3"
    assert put(version_dir + f"{LIB}-{build3}.jar", token, b"build 3").status_code == 201
    assert meta_build(get(version_dir + "maven-metadata.xml", token).content) == "2"
    document = (f"<metadata><groupId>{GROUP}</groupId><artifactId>{LIB}</artifactId><version>{version}</version>"
                "<versioning><snapshot><timestamp>29991231.235959</timestamp><buildNumber>3</buildNumber></snapshot>"
                "</versioning></metadata>").encode()
    assert put(version_dir + "maven-metadata.xml", token, document).status_code == 201
    assert meta_build(get(version_dir + "maven-metadata.xml", token).content) == "3"
    assert get(version_dir + f"{LIB}-{version}.jar", token).content == b"build 3"


def meta_build(xml: bytes) -> str:
    return ET.fromstring(xml).findtext("versioning/snapshot/buildNumber")


# --------------------------------------------------------------------------- deploy over plain HTTP


def partial_put(url: str, token: str, body: bytes) -> int:
    """PUT whose Content-Length announces `body` but only half of it is sent: the status the
    server answers once its body timeout cuts the request off."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=BODY_TIMEOUT_S + 10) as sock:
        head = (f"PUT {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Length: {len(body)}\r\n"
                f"Authorization: {basic(token)['Authorization']}\r\n\r\n")
        sock.sendall(head.encode() + body[: len(body) // 2])
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
            if b"\r\n\r\n" in response:
                break
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def deploy_http(base: str, token: str, version: str, artifact: str = LIB, pom: str | None = None,
                metadata: bool = True) -> dict[str, bytes]:
    """What `mvn deploy` sends for a release: jar, pom (each with .sha1 and .md5), then the
    artifact's maven-metadata.xml."""
    directory = f"{base}{GROUP_PATH}/{artifact}/{version}/"
    files = {f"{artifact}-{version}.jar": f"{artifact} {version} jar".encode(),
             f"{artifact}-{version}.pom": (pom or pom_xml(GROUP, artifact, version)).encode()}
    for name, data in files.items():
        assert put(directory + name, token, data).status_code == 201
        assert put(directory + name + ".sha1", token, sha1(data).encode()).status_code == 201
        assert put(directory + name + ".md5", token, hashlib.md5(data).hexdigest().encode()).status_code == 201
    if metadata:
        finish(base, token, artifact, version)
    return files


def finish(base: str, token: str, artifact: str, version: str) -> None:
    xml = (f"<metadata><groupId>{GROUP}</groupId><artifactId>{artifact}</artifactId><versioning>"
           f"<versions><version>{version}</version></versions></versioning></metadata>").encode()
    assert put(f"{base}{GROUP_PATH}/{artifact}/maven-metadata.xml", token, xml).status_code == 201


def test_unfinished_until_metadata_and_checksums_are_checked(mclient, mdomain):
    client, domain = mclient, mdomain
    client.create_repository(domain=domain, repository="repo")
    token = token_of(client, domain)
    base = endpoint(client, domain, "repo")
    files = deploy_http(base, token, "1.0", metadata=False)
    jar_url = f"{base}{GROUP_PATH}/{LIB}/1.0/{LIB}-1.0.jar"
    assert statuses(client, domain, "repo") == {"1.0": "Unfinished"}
    assert get(jar_url, token).status_code == 404
    assert get(f"{base}{GROUP_PATH}/{LIB}/maven-metadata.xml", token).status_code == 404

    # a wrong checksum is refused and changes nothing
    wrong = put(jar_url + ".sha1", token, b"0" * 40)
    assert wrong.status_code == 400 and "does not match" in wrong.text
    assert put(jar_url + ".sha256", token, b"nothex").status_code == 400
    assert asset_names(client, domain, "repo", "1.0") == set(files)

    finish(base, token, LIB, "1.0")
    assert statuses(client, domain, "repo") == {"1.0": "Published"}
    assert get(jar_url, token).content == files[f"{LIB}-1.0.jar"]
    assert get(jar_url + ".sha512", token).text == hashlib.sha512(files[f"{LIB}-1.0.jar"]).hexdigest()
    # a later file (sources) joins the Published version
    sources = b"sources"
    assert put(f"{base}{GROUP_PATH}/{LIB}/1.0/{LIB}-1.0-sources.jar", token, sources).status_code == 201
    assert f"{LIB}-1.0-sources.jar" in asset_names(client, domain, "repo", "1.0")
    # the same file again is fine, other bytes under its name are a conflict
    assert put(jar_url, token, files[f"{LIB}-1.0.jar"]).status_code == 201
    assert put(jar_url, token, b"other bytes").status_code == 409


def test_credentials_challenge_and_token_schemes(mclient, mdomain):
    client, domain = mclient, mdomain
    client.create_repository(domain=domain, repository="repo")
    token = token_of(client, domain)
    base = endpoint(client, domain, "repo")
    deploy_http(base, token, "1.0")
    url = f"{base}{GROUP_PATH}/{LIB}/maven-metadata.xml"
    refused = get(url, None)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert requests.put(url, data=b"<metadata/>", timeout=TIMEOUT).status_code == 401
    assert get(url, token + "x").status_code == 401
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT).status_code == 200


def test_bad_input_is_refused_and_nothing_is_half_stored(mclient, mdomain):
    client, domain = mclient, mdomain
    client.create_repository(domain=domain, repository="repo")
    token = token_of(client, domain)
    base = endpoint(client, domain, "repo")
    directory = f"{base}{GROUP_PATH}/{LIB}/1.0/"

    def refused(url: str, data: bytes, status: int = 400) -> str:
        response = put(url, token, data)
        assert response.status_code == status, (url, response.status_code, response.text)
        return response.text

    refused(f"{base}com/%2e%2e/{LIB}/1.0/{LIB}-1.0.jar", b"x")
    refused(f"{base}com//example/{LIB}/1.0/{LIB}-1.0.jar", b"x")
    refused(f"{directory}other-1.0.jar", b"x")
    assert "do not match" in refused(f"{directory}{LIB}-1.0.pom", pom_xml(GROUP, LIB, "9.9").encode())
    assert "do not match" in refused(f"{directory}{LIB}-1.0.pom", pom_xml("org.other", LIB, "1.0").encode())
    refused(f"{directory}{LIB}-1.0.pom", b"this is not xml")
    refused(f"{directory}{LIB}-1.0.pom", pom_xml(GROUP, LIB, "1.0").encode()[:150])
    meta = f"{base}{GROUP_PATH}/{LIB}/maven-metadata.xml"
    refused(meta, b"<metadata><groupId>")
    refused(meta, b"{}")
    refused(meta, f"<metadata><groupId>{GROUP}</groupId><artifactId>other</artifactId></metadata>".encode())
    assert put(f"{directory}{LIB}-1.0.jar.sha1", token, b"0" * 40).status_code == 404
    refused(f"{directory}{LIB}-1.0.jar", b"x" * (ASSET_SIZE_LIMIT + 1), status=413)
    assert statuses(client, domain, "repo") == {}
    # a body that stops mid-way is the client's error: 400, nothing stored (three at once: each
    # waits for the body timeout)
    cut = [(directory + f"{LIB}-1.0.jar", b"0" * 200_000), (directory + f"{LIB}-1.0.jar.sha1", b"0" * 40),
           (meta, b"<metadata>" + b" " * 5000)]
    with ThreadPoolExecutor(max_workers=len(cut)) as pool:
        assert list(pool.map(lambda c: partial_put(c[0], token, c[1]), cut)) == [400] * len(cut)
    assert statuses(client, domain, "repo") == {}
    # reads of paths that cannot exist are 4xx too
    assert get(f"{base}{LIB}/1.0/{LIB}-1.0.jar", token).status_code == 400
    assert get(f"{base}com/%2e%2e/x/maven-metadata.xml", token).status_code == 400
    assert requests.delete(f"{directory}{LIB}-1.0.jar", headers=basic(token), timeout=TIMEOUT).status_code == 405


# --------------------------------------------------------------------------- the control plane on Maven versions


def test_status_copy_dispose_and_delete(mclient, mdomain):
    client, domain = mclient, mdomain
    client.create_repository(domain=domain, repository="repo")
    client.create_repository(domain=domain, repository="copy")
    token = token_of(client, domain)
    base = endpoint(client, domain, "repo")
    for version in ("1.0", "1.1", "1.2", "1.3"):
        deploy_http(base, token, version)
    meta_url = f"{base}{GROUP_PATH}/{LIB}/maven-metadata.xml"
    meta = get(meta_url, token).content
    assert metadata_versions(meta) == ["1.0", "1.1", "1.2", "1.3"]
    assert ET.fromstring(meta).findtext("versioning/release") == "1.3"

    client.update_package_versions_status(**coords(domain, "repo"), versions=["1.3"], targetStatus="Archived")
    assert get(f"{base}{GROUP_PATH}/{LIB}/1.3/{LIB}-1.3.jar", token).status_code == 404
    client.delete_package_versions(**coords(domain, "repo"), versions=["1.3"])

    client.update_package_versions_status(**coords(domain, "repo"), versions=["1.2"], targetStatus="Unlisted")
    assert metadata_versions(get(meta_url, token).content) == ["1.0", "1.1"]
    assert get(f"{base}{GROUP_PATH}/{LIB}/1.2/{LIB}-1.2.jar", token).status_code == 200

    copied = client.copy_package_versions(domain=domain, sourceRepository="repo", destinationRepository="copy",
                                          format="maven", namespace=GROUP, package=LIB, versions=["1.0", "1.2"])
    assert set(copied["successfulVersions"]) == {"1.0", "1.2"}
    assert statuses(client, domain, "copy") == {"1.0": "Published", "1.2": "Unlisted"}
    assert get(f"{endpoint(client, domain, 'copy')}{GROUP_PATH}/{LIB}/1.0/{LIB}-1.0.pom", token).status_code == 200

    client.dispose_package_versions(**coords(domain, "repo"), versions=["1.1"])
    assert get(f"{base}{GROUP_PATH}/{LIB}/1.1/{LIB}-1.1.jar", token).status_code == 404
    client.delete_package_versions(**coords(domain, "repo"), versions=["1.0"])
    assert get(meta_url, token).status_code == 404  # nothing Published is left
    assert statuses(client, domain, "repo") == {"1.1": "Disposed", "1.2": "Unlisted"}


def test_pom_dependencies_by_type(mclient, mdomain):
    client, domain = mclient, mdomain
    client.create_repository(domain=domain, repository="repo")
    token = token_of(client, domain)
    base = endpoint(client, domain, "repo")
    deps = "".join(
        f"<dependency><groupId>g.{scope}</groupId><artifactId>{scope}-dep</artifactId><version>1</version>"
        + (f"<scope>{scope}</scope>" if scope != "compile" else "") + "</dependency>"
        for scope in ("compile", "runtime", "test", "provided", "system"))
    deps += "<dependency><groupId>g</groupId><artifactId>opt</artifactId><version>2</version><optional>true</optional></dependency>"
    pom = pom_xml(GROUP, LIB, "3.0", extra=f"<parent><groupId>{GROUP}</groupId><artifactId>parent</artifactId>"
                  f"<version>1</version></parent><dependencies>{deps}</dependencies>")
    deploy_http(base, token, "3.0", pom=pom)
    listed = client.list_package_version_dependencies(**coords(domain, "repo"), packageVersion="3.0")["dependencies"]
    assert {d["package"]: d["dependencyType"] for d in listed} == {
        "parent": "parent", "compile-dep": "compile", "runtime-dep": "runtime", "test-dep": "test",
        "provided-dep": "provided", "system-dep": "system", "opt": "optional"}
    # readmes are not supported for Maven (as AWS): none, whatever the POM says
    readme = client.get_package_version_readme(**coords(domain, "repo"), packageVersion="3.0")
    assert readme["version"] == "3.0" and "readme" not in readme


# --------------------------------------------------------------------------- public:maven-central


def test_maven_central_through_an_external_connection(mclient, mdomain, central):
    client, domain = mclient, mdomain
    _, files = central
    client.create_repository(domain=domain, repository="central-store")
    client.associate_external_connection(domain=domain, repository="central-store",
                                         externalConnection="public:maven-central")
    client.create_repository(domain=domain, repository="app", upstreams=[{"repositoryName": "central-store"}])
    token = token_of(client, domain)
    app = endpoint(client, domain, "app")
    base = f"{app}org/central/thing/"

    # the listing comes from Central's metadata, SNAPSHOTs left out
    listing = get(base + "maven-metadata.xml", token)
    assert listing.status_code == 200, listing.text
    assert metadata_versions(listing.content) == ["1.0", "2.0"]
    pom = get(base + "1.0/thing-1.0.pom", token)
    assert pom.status_code == 200 and pom.content == files["org/central/thing/1.0/thing-1.0.pom"]
    jar = get(base + "1.0/thing-1.0.jar", token)
    assert jar.content == files["org/central/thing/1.0/thing-1.0.jar"]
    assert get(base + "1.0/thing-1.0.jar.sha1", token).text == sha1(jar.content)
    for repository in ("app", "central-store"):
        assert statuses(client, domain, repository, "thing", "org.central") == {"1.0": "Published"}, repository
    assert asset_names(client, domain, "central-store", "1.0", "thing", "org.central") == \
        {"thing-1.0.pom", "thing-1.0.jar"}
    # app retained the version when its first file (the POM) was served, and again with the jar:
    # its retained copy holds every file it served (compatibility K7)
    assert asset_names(client, domain, "app", "1.0", "thing", "org.central") == {"thing-1.0.pom", "thing-1.0.jar"}
    described = client.describe_package_version(**coords(domain, "central-store", "thing", "org.central"),
                                                packageVersion="1.0")["packageVersion"]
    assert described["displayName"] == "Thing from Central"
    assert described["origin"]["originType"] == "EXTERNAL"

    # a plugin group's document (prefixes) comes from Central as well
    group = ET.fromstring(get(f"{app}org/central/maven-metadata.xml", token).content)
    assert [(p.findtext("prefix"), p.findtext("artifactId")) for p in group.iterfind("plugins/plugin")] == \
        [("thing", "thing-maven-plugin")]

    # a file whose bytes disagree with its .sha1 is not kept; SNAPSHOTs are never fetched
    assert get(base + "2.0/thing-2.0.jar", token).status_code == 409
    assert get(base + "1.0-SNAPSHOT/thing-1.0-20200101.000000-1.jar", token).status_code == 404
    assert "2.0" not in statuses(client, domain, "central-store", "thing", "org.central")
