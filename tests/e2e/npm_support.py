"""Helpers for the npm end-to-end tests (test_npm.py) and the npm benchmark (bench/npm.py): the real
`npm` client made hermetic, packages built in code, the registry's HTTP API spoken directly, and
boto3 calls on npm coordinates.

Hermetic npm: every `Npm` has its own user config (`<home>/npmrc`: `registry=` plus the
`//host:port/path/:_authToken=` line), an empty global config, a fresh cache (`<home>/cache`), no
audit/fund/update-notifier and no fetch retries, and nothing inherited from the caller's npm_config_*
environment. Nothing here talks to anything but 127.0.0.1."""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import quote, urlsplit

import requests
from botocore.exceptions import ClientError

from support import AwsCli

NPM_TIMEOUT_S = 180
NPM_FLAGS = ["--no-audit", "--no-fund", "--no-update-notifier"]
HTTP_TIMEOUT_S = 30
ABBREVIATED = "application/vnd.npm.install-v1+json"
ABBREVIATED_ACCEPT = f"{ABBREVIATED}; q=1.0, application/json; q=0.8, */*"  # what npm install sends
TARBALL_MTIME = 499162500  # 1985-10-26T08:15:00Z, the fixed mtime npm pack writes


# --------------------------------------------------------------------------- names and URLs


def split_name(name: str) -> tuple[str | None, str]:
    """`@scope/pkg` -> ("scope", "pkg") (the API namespace is the scope without `@`); `pkg` -> (None, "pkg")."""
    if name.startswith("@"):
        scope, _, package = name[1:].partition("/")
        assert scope and package, f"malformed scoped name {name!r}"
        return scope, package
    return None, name


def escaped_name(name: str) -> str:
    """The name as npm puts it in a packument path: `@scope%2fpkg`, `pkg`."""
    return name.replace("/", "%2f") if name.startswith("@") else name


def tarball_basename(name: str, version: str) -> str:
    return f"{split_name(name)[1]}-{version}.tgz"


def packument_url(endpoint: str, name: str) -> str:
    return f"{endpoint}{escaped_name(name)}"


def tarball_url(endpoint: str, name: str, version: str) -> str:
    """`<endpoint>pkg/-/pkg-1.0.0.tgz`, `<endpoint>@scope/pkg/-/pkg-1.0.0.tgz`."""
    return f"{endpoint}{name}/-/{tarball_basename(name, version)}"


def dist_tags_url(endpoint: str, name: str, tag: str | None = None) -> str:
    url = f"{endpoint}-/package/{escaped_name(name)}/dist-tags"
    return f"{url}/{quote(tag, safe='')}" if tag else url


def nerf_dart(registry: str) -> str:
    """npm's key for per-registry settings: `//host:port/path/` (scheme dropped, trailing slash)."""
    parts = urlsplit(registry)
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return f"//{parts.netloc}{path}"


# --------------------------------------------------------------------------- boto3 on npm coordinates


def npm_endpoint(client, domain: str, repository: str) -> str:
    endpoint = client.get_repository_endpoint(domain=domain, repository=repository,
                                              format="npm")["repositoryEndpoint"]
    assert endpoint.endswith("/"), endpoint
    return endpoint


def auth_token(client, domain: str, **kwargs) -> str:
    return client.get_authorization_token(domain=domain, **kwargs)["authorizationToken"]


def npm_package(domain: str, repository: str, name: str) -> dict:
    """The coordinates every package-scoped call takes for npm package `name` (scoped or not)."""
    namespace, package = split_name(name)
    coordinates = {"domain": domain, "repository": repository, "format": "npm", "package": package}
    if namespace is not None:
        coordinates["namespace"] = namespace
    return coordinates


def describe_npm_version(client, domain: str, repository: str, name: str, version: str) -> dict:
    return client.describe_package_version(**npm_package(domain, repository, name),
                                           packageVersion=version)["packageVersion"]


def list_npm_versions(client, domain: str, repository: str, name: str) -> list[dict]:
    paginator = client.get_paginator("list_package_versions")
    return [item for page in paginator.paginate(**npm_package(domain, repository, name))
            for item in page["versions"]]


def npm_versions_in(client, domain: str, repository: str, name: str) -> dict[str, str]:
    """{version: status} of an npm package in `repository`; {} when the package is not there."""
    try:
        return {v["version"]: v["status"] for v in list_npm_versions(client, domain, repository, name)}
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return {}
        raise


def npm_dependencies(client, domain: str, repository: str, name: str, version: str) -> list[dict]:
    found: list[dict] = []
    kwargs = dict(npm_package(domain, repository, name), packageVersion=version)
    while True:
        page = client.list_package_version_dependencies(**kwargs)
        found += page.get("dependencies", [])
        if not page.get("nextToken"):
            return found
        kwargs["nextToken"] = page["nextToken"]


def npm_asset(client, domain: str, repository: str, name: str, version: str,
              asset: str = "package.tgz") -> bytes:
    response = client.get_package_version_asset(**npm_package(domain, repository, name),
                                                packageVersion=version, asset=asset)
    with contextlib.closing(response["asset"]) as body:
        return body.read()


def set_npm_status(client, domain: str, repository: str, name: str, version: str, status: str) -> None:
    """Unlisted/Archived/Published through UpdatePackageVersionsStatus, Disposed through
    DisposePackageVersions, Deleted through DeletePackageVersions; requires success."""
    coordinates = npm_package(domain, repository, name)
    if status == "Disposed":
        result = client.dispose_package_versions(**coordinates, versions=[version])
    elif status == "Deleted":
        result = client.delete_package_versions(**coordinates, versions=[version])
    else:
        result = client.update_package_versions_status(**coordinates, versions=[version], targetStatus=status)
    assert not result.get("failedVersions"), result
    assert result["successfulVersions"][version]["status"] == status, result


def set_npm_origin(client, domain: str, repository: str, name: str, publish: str, upstream: str) -> dict:
    return client.put_package_origin_configuration(
        **npm_package(domain, repository, name),
        restrictions={"publish": publish, "upstream": upstream})["originConfiguration"]


def npm_origin_restrictions(client, domain: str, repository: str, name: str) -> dict:
    package = client.describe_package(**npm_package(domain, repository, name))["package"]
    return package["originConfiguration"]["restrictions"]


def wait_until(check: Callable[[], object], timeout: float = 10.0, every: float = 0.2) -> object:
    """Call `check` until it returns something truthy (returned) or `timeout` passes (then the last
    falsy value is returned, for the caller's assertion to show)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)


# --------------------------------------------------------------------------- packages built in code


def write_package(root: Path, name: str, version: str, **fields) -> Path:
    """A publishable package folder `root/<name>@<version>/` with package.json (name, version, main
    plus `fields`) and an index.js exporting its name and version. Returns the folder."""
    folder = root / f"{name.replace('/', '+')}@{version}"
    folder.mkdir(parents=True, exist_ok=False)
    manifest = {"name": name, "version": version, "main": "index.js", **fields}
    (folder / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (folder / "index.js").write_text(f"module.exports = {json.dumps({'name': name, 'version': version})};\n")
    return folder


def new_project(root: Path, dependencies: dict[str, str] | None = None, name: str = "consumer") -> Path:
    """An empty consumer project `root/<name>/` (private package.json; optional dependencies)."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=False)
    manifest = {"name": name, "version": "1.0.0", "private": True, "dependencies": dependencies or {}}
    (folder / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def installed_manifest(project: Path, name: str) -> dict | None:
    """node_modules/<name>/package.json of `project`, or None when not installed."""
    path = project / "node_modules" / name / "package.json"
    return json.loads(path.read_text()) if path.exists() else None


def installed_version(project: Path, name: str) -> str | None:
    manifest = installed_manifest(project, name)
    return manifest["version"] if manifest else None


def make_tarball(name: str, version: str, extra: dict | None = None, body: str | None = None) -> tuple[bytes, dict]:
    """A valid npm tarball made in memory: gzip'd tar of `package/package.json` and
    `package/index.js`, byte-for-byte deterministic. Returns (tarball, manifest)."""
    manifest = {"name": name, "version": version, "main": "index.js", **(extra or {})}
    files = {
        "package/package.json": (json.dumps(manifest, indent=2) + "\n").encode(),
        "package/index.js": (body if body is not None
                             else f"module.exports = {json.dumps({'name': name, 'version': version})};\n").encode(),
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, content in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = TARBALL_MTIME
            tar.addfile(info, io.BytesIO(content))
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue(), manifest


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def shasum(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def publish_document(endpoint: str, manifest: dict, tarball: bytes, tag: str = "latest") -> dict:
    """The JSON body `npm publish` PUTs to `<endpoint><escaped name>` (libnpmpublish's shape): one
    version with its dist (integrity, shasum, tarball URL), the dist-tag and the base64 attachment."""
    name, version = manifest["name"], manifest["version"]
    version_doc = dict(manifest)
    version_doc.update({
        "_id": f"{name}@{version}",
        "dist": {"integrity": integrity(tarball), "shasum": shasum(tarball),
                 "tarball": f"{endpoint}{name}/-/{name}-{version}.tgz"},
    })
    document = {
        "_id": name,
        "name": name,
        "dist-tags": {tag: version},
        "versions": {version: version_doc},
        "access": None,
        "_attachments": {
            f"{name}-{version}.tgz": {
                "content_type": "application/octet-stream",
                "data": base64.b64encode(tarball).decode(),
                "length": len(tarball),
            }
        },
    }
    if "description" in manifest:
        document["description"] = manifest["description"]
    return document


# --------------------------------------------------------------------------- the registry over HTTP


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def http_get(url: str, token: str | None = None, accept: str | None = None, headers: dict | None = None,
             session: requests.Session | None = None) -> requests.Response:
    sent = dict(headers or {})
    if token is not None:
        sent.update(bearer(token))
    if accept is not None:
        sent["Accept"] = accept
    return (session or requests).get(url, headers=sent, timeout=HTTP_TIMEOUT_S, allow_redirects=False)


def put_publish(endpoint: str, token: str | None, manifest: dict, tarball: bytes, tag: str = "latest",
                session: requests.Session | None = None, headers: dict | None = None) -> requests.Response:
    """Publish one version through the registry API, with the body npm sends."""
    sent = {"Content-Type": "application/json", "npm-command": "publish", **(headers or {})}
    if token is not None:
        sent.update(bearer(token))
    body = json.dumps(publish_document(endpoint, manifest, tarball, tag))
    return (session or requests).put(packument_url(endpoint, manifest["name"]), data=body, headers=sent,
                                     timeout=HTTP_TIMEOUT_S)


def assert_npm_error(response: requests.Response, status: int) -> dict:
    """`status` with a JSON body carrying a non-empty `error` (what npm prints after E<status>)."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    return body


# --------------------------------------------------------------------------- the real npm client


class NpmError(AssertionError):
    def __init__(self, argv: list[str], returncode: int, stdout: str, stderr: str):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(f"{' '.join(argv)} exited {returncode}\n--- stdout ---\n{stdout[-3000:]}"
                         f"\n--- stderr ---\n{stderr[-3000:]}")

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def hermetic_npm_env(userconfig: Path, cache: Path, globalconfig: Path) -> dict[str, str]:
    """The caller's environment without any npm_config_*, plus the isolated npm settings."""
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("npm_config_")}
    env.update(
        NPM_CONFIG_USERCONFIG=str(userconfig),
        NPM_CONFIG_GLOBALCONFIG=str(globalconfig),
        NPM_CONFIG_CACHE=str(cache),
        NPM_CONFIG_UPDATE_NOTIFIER="false",
        NPM_CONFIG_AUDIT="false",
        NPM_CONFIG_FUND="false",
        NPM_CONFIG_FETCH_RETRIES="0",
        NPM_CONFIG_FETCH_TIMEOUT="60000",
        NPM_CONFIG_LOGLEVEL="warn",
        NO_UPDATE_NOTIFIER="1",
    )
    return env


@dataclass
class Npm:
    """The real npm client pointed at one registry (`registry`, ending with `/`) with `token` as
    `_authToken` (None: no auth line at all). Files live under `home`: `npmrc` (the user config),
    `global-npmrc` (empty) and `cache/` (fresh unless `cache` is given)."""

    registry: str
    token: str | None
    home: Path
    cache: Path | None = None
    extra_config: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.userconfig = self.home / "npmrc"
        self.globalconfig = self.home / "global-npmrc"
        self.globalconfig.touch()
        if self.cache is None:
            self.cache = self.home / "cache"
        self.write_npmrc()

    def write_npmrc(self) -> None:
        lines = [f"registry={self.registry}"]
        if self.token is not None:
            lines.append(f"{nerf_dart(self.registry)}:_authToken={self.token}")
        lines += [f"{key}={value}" for key, value in self.extra_config.items()]
        self.userconfig.write_text("\n".join(lines) + "\n")

    def env(self) -> dict[str, str]:
        assert self.cache is not None
        return hermetic_npm_env(self.userconfig, self.cache, self.globalconfig)

    def run(self, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
        argv = ["npm", *args, *NPM_FLAGS]
        proc = subprocess.run(argv, cwd=cwd or self.home, env=self.env(), capture_output=True, text=True,
                              timeout=NPM_TIMEOUT_S, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise NpmError(argv, proc.returncode, proc.stdout, proc.stderr)
        return proc

    def fails(self, *args: str, cwd: Path | None = None) -> NpmError:
        """Run npm, require a non-zero exit, return the error (stdout/stderr/output)."""
        proc = self.run(*args, cwd=cwd, check=False)
        assert proc.returncode != 0, f"npm {' '.join(args)} succeeded\n{proc.stdout}\n{proc.stderr}"
        return NpmError(["npm", *args], proc.returncode, proc.stdout, proc.stderr)

    def publish(self, folder: Path, *args: str) -> subprocess.CompletedProcess:
        return self.run("publish", *args, cwd=folder)

    def publish_new(self, root: Path, name: str, version: str, *args: str, **fields) -> Path:
        """write_package + npm publish; returns the package folder."""
        folder = write_package(root, name, version, **fields)
        self.publish(folder, *args)
        return folder

    def install(self, project: Path, *specs: str) -> subprocess.CompletedProcess:
        return self.run("install", *specs, cwd=project)

    def view(self, spec: str, *fields: str):
        """`npm view <spec> [fields] --json`, parsed; None when npm prints nothing (field unset)."""
        out = self.run("view", spec, *fields, "--json").stdout.strip()
        return json.loads(out) if out else None

    def dist_tags(self, name: str) -> dict[str, str]:
        """`npm dist-tag ls <name>` parsed into {tag: version}."""
        out = self.run("dist-tag", "ls", name).stdout
        tags = {}
        for line in out.splitlines():
            if ":" in line:
                tag, _, version = line.partition(":")
                tags[tag.strip()] = version.strip()
        return tags


def error_code_in(output: str, *codes: str) -> bool:
    """Whether npm's output names one of `codes` (`npm error code E401`, `E409`, ...)."""
    return any(code in output for code in codes)


# --------------------------------------------------------------------------- servers and the aws CLI


@dataclass
class AwsCliWithEnv(AwsCli):
    """support.AwsCli plus extra environment for the CLI (e.g. NPM_CONFIG_USERCONFIG for
    `aws codeartifact login --tool npm`, which runs `npm config set`)."""

    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(self.extra_env)
        return env
