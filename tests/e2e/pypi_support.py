"""Helpers for the PyPI end-to-end tests (test_pypi.py) and the PyPI benchmark (bench/pypi.py):
distributions built in code (wheels and sdists, byte-for-byte deterministic), the real `pip`,
`twine` and `uv` clients made hermetic, the legacy upload form and the simple API spoken directly,
and boto3 calls on pypi coordinates.

Hermetic clients: no PIP_*/UV_*/TWINE_* variable of the caller's environment reaches them (this
machine sets PIP_FIND_LINKS, for one), pip reads no configuration file (PIP_CONFIG_FILE=/dev/null)
and no keyring, never prompts, never retries, and keeps no cache; uv gets its own cache directory
and no configuration files. Nothing here talks to anything but 127.0.0.1."""

from __future__ import annotations

import base64
import contextlib
import csv
import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable
from urllib.parse import quote, urldefrag, urljoin, urlsplit, urlunsplit

import requests
from botocore.exceptions import ClientError

from support import AwsCli

CLIENT_TIMEOUT_S = 180
HTTP_TIMEOUT_S = 30
JSON_MEDIA_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_MEDIA_TYPE = "application/vnd.pypi.simple.v1+html"
# What pip 23.x sends for a project page.
PIP_ACCEPT = f"{JSON_MEDIA_TYPE}, {HTML_MEDIA_TYPE}; q=0.1, text/html; q=0.01"
ZIP_DATE = (1985, 10, 26, 8, 15, 0)  # fixed timestamps: the same inputs give the same bytes
TAR_MTIME = 499162500
CLIENT_ENV_PREFIXES = ("PIP_", "UV_", "TWINE_", "PYTHON_KEYRING")


# --------------------------------------------------------------------------- names and URLs


def normalize(name: str) -> str:
    """PEP 503: lowercase, every run of `-`, `_`, `.` becomes one `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def dist_name(name: str) -> str:
    """The name as it stands in a distribution filename / `.dist-info` folder: `My.Pkg` -> `my_pkg`."""
    return re.sub(r"[-_.]+", "_", name).lower()


def pypi_endpoint(client, domain: str, repository: str) -> str:
    endpoint = client.get_repository_endpoint(domain=domain, repository=repository,
                                              format="pypi")["repositoryEndpoint"]
    assert endpoint.endswith("/"), endpoint
    return endpoint


def auth_token(client, domain: str, **kwargs) -> str:
    return client.get_authorization_token(domain=domain, **kwargs)["authorizationToken"]


def simple_url(endpoint: str, project: str | None = None) -> str:
    """`<endpoint>simple/` (the root page) or `<endpoint>simple/<project>/` (spelling kept)."""
    return f"{endpoint}simple/" + (f"{project}/" if project is not None else "")


def file_url(endpoint: str, project: str, version: str, filename: str) -> str:
    """Where the server keeps a file: `<endpoint>files/<normalized>/<version>/<filename>`."""
    return f"{endpoint}files/{normalize(project)}/{version}/{filename}"


def with_credentials(url: str, token: str | None, user: str = "aws") -> str:
    """`http://host/...` -> `http://aws:<token>@host/...` (unchanged for token None)."""
    if token is None:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}:{quote(token, safe='')}@{parts.netloc}"))


def index_url(endpoint: str, token: str | None) -> str:
    """The `--index-url` pip and uv get: the simple root with `aws:<token>@` in it."""
    return with_credentials(simple_url(endpoint), token)


def basic(token: str, user: str = "aws") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}


# --------------------------------------------------------------------------- boto3 on pypi coordinates


def pypi_package(domain: str, repository: str, name: str) -> dict:
    """Package-scoped coordinates: format pypi, no namespace, the normalized name."""
    return {"domain": domain, "repository": repository, "format": "pypi", "package": normalize(name)}


def describe_pypi_version(client, domain: str, repository: str, name: str, version: str) -> dict:
    return client.describe_package_version(**pypi_package(domain, repository, name),
                                           packageVersion=version)["packageVersion"]


def list_pypi_versions(client, domain: str, repository: str, name: str) -> list[dict]:
    paginator = client.get_paginator("list_package_versions")
    return [item for page in paginator.paginate(**pypi_package(domain, repository, name))
            for item in page["versions"]]


def pypi_versions_in(client, domain: str, repository: str, name: str) -> dict[str, str]:
    """{version: status} of a pypi package in `repository`; {} when the package is not there."""
    try:
        return {v["version"]: v["status"] for v in list_pypi_versions(client, domain, repository, name)}
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return {}
        raise


def pypi_revision(client, domain: str, repository: str, name: str, version: str) -> str:
    return describe_pypi_version(client, domain, repository, name, version)["revision"]


def pypi_dependencies(client, domain: str, repository: str, name: str, version: str) -> list[dict]:
    found: list[dict] = []
    kwargs = dict(pypi_package(domain, repository, name), packageVersion=version)
    while True:
        page = client.list_package_version_dependencies(**kwargs)
        found += page.get("dependencies", [])
        if not page.get("nextToken"):
            return found
        kwargs["nextToken"] = page["nextToken"]


def pypi_assets(client, domain: str, repository: str, name: str, version: str) -> list[dict]:
    paginator = client.get_paginator("list_package_version_assets")
    pages = paginator.paginate(**pypi_package(domain, repository, name), packageVersion=version)
    return [item for page in pages for item in page["assets"]]


def pypi_asset(client, domain: str, repository: str, name: str, version: str, asset: str) -> bytes:
    response = client.get_package_version_asset(**pypi_package(domain, repository, name),
                                                packageVersion=version, asset=asset)
    with contextlib.closing(response["asset"]) as body:
        return body.read()


def set_pypi_status(client, domain: str, repository: str, name: str, version: str, status: str) -> None:
    """Unlisted/Archived/Published through UpdatePackageVersionsStatus, Disposed through
    DisposePackageVersions; requires success."""
    coordinates = pypi_package(domain, repository, name)
    if status == "Disposed":
        result = client.dispose_package_versions(**coordinates, versions=[version])
    else:
        result = client.update_package_versions_status(**coordinates, versions=[version], targetStatus=status)
    assert not result.get("failedVersions"), result
    assert result["successfulVersions"][version]["status"] == status, result


def set_pypi_origin(client, domain: str, repository: str, name: str, publish: str, upstream: str) -> dict:
    return client.put_package_origin_configuration(
        **pypi_package(domain, repository, name),
        restrictions={"publish": publish, "upstream": upstream})["originConfiguration"]


def pypi_origin_restrictions(client, domain: str, repository: str, name: str) -> dict:
    package = client.describe_package(**pypi_package(domain, repository, name))["package"]
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


# --------------------------------------------------------------------------- distributions built in code


@dataclass
class Dist:
    """One distribution file: its name on disk/in the index, its bytes and the metadata it carries
    (for a wheel `metadata` is the exact `.dist-info/METADATA`; for an sdist the PKG-INFO)."""

    name: str  # the project name as spelled in the metadata (`Name:`)
    version: str
    filename: str
    content: bytes
    metadata: bytes
    filetype: str  # the upload form's `filetype`: bdist_wheel or sdist
    fields: dict = field(default_factory=dict)  # summary, license, home_page, requires_python, requires_dist

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def metadata_sha256(self) -> str:
        return hashlib.sha256(self.metadata).hexdigest()

    @property
    def is_wheel(self) -> bool:
        return self.filetype == "bdist_wheel"

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.filename
        path.write_bytes(self.content)
        return path


def core_metadata(name: str, version: str, summary: str | None = None, license: str | None = None,
                  home_page: str | None = None, requires_python: str | None = None,
                  requires_dist: tuple[str, ...] | list[str] = ()) -> bytes:
    """Core metadata 2.1 (what twine reads and pip checks), fields in the usual order."""
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if summary is not None:
        lines.append(f"Summary: {summary}")
    if home_page is not None:
        lines.append(f"Home-page: {home_page}")
    if license is not None:
        lines.append(f"License: {license}")
    if requires_python is not None:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {requirement}" for requirement in requires_dist]
    return ("\n".join(lines) + "\n\n").encode()


def module_source(name: str, version: str, body: str | None = None) -> bytes:
    return (body if body is not None else f"NAME = {name!r}\nVERSION = {version!r}\n").encode()


def _record_line(path: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [path, f"sha256={digest}", str(len(data))]


def make_wheel(name: str, version: str, body: str | None = None, summary: str | None = "A test package",
               license: str | None = None, home_page: str | None = None, requires_python: str | None = None,
               requires_dist: tuple[str, ...] | list[str] = (), tag: str = "py3-none-any") -> Dist:
    """A pure-Python wheel `<dist_name>-<version>-<tag>.whl` holding the package `<dist_name>/`
    (an `__init__.py` with NAME and VERSION, or `body`) and its `.dist-info` (METADATA, WHEEL,
    RECORD with hashes)."""
    fields = dict(summary=summary, license=license, home_page=home_page, requires_python=requires_python,
                  requires_dist=list(requires_dist))
    metadata = core_metadata(name, version, **fields)
    base = dist_name(name)
    info = f"{base}-{version}.dist-info"
    files = {
        f"{base}/__init__.py": module_source(name, version, body),
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: reliquary-e2e\nRoot-Is-Purelib: true\nTag: {tag}\n\n".encode(),
    }
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in files.items():
        writer.writerow(_record_line(path, data))
    writer.writerow([f"{info}/RECORD", "", ""])
    files[f"{info}/RECORD"] = record.getvalue().encode()
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            entry = zipfile.ZipInfo(path, date_time=ZIP_DATE)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    return Dist(name, version, f"{base}-{version}-{tag}.whl", raw.getvalue(), metadata, "bdist_wheel", fields)


def make_sdist(name: str, version: str, summary: str | None = "A test package", license: str | None = None,
               home_page: str | None = None, requires_python: str | None = None,
               requires_dist: tuple[str, ...] | list[str] = ()) -> Dist:
    """An sdist `<dist_name>-<version>.tar.gz` with `<dist_name>-<version>/PKG-INFO`, a
    pyproject.toml, a setup.py and the module (for uploads only: nothing here builds it)."""
    fields = dict(summary=summary, license=license, home_page=home_page, requires_python=requires_python,
                  requires_dist=list(requires_dist))
    pkg_info = core_metadata(name, version, **fields)
    base = dist_name(name)
    root = f"{base}-{version}"
    files = {
        f"{root}/PKG-INFO": pkg_info,
        f"{root}/pyproject.toml": (f'[project]\nname = "{name}"\nversion = "{version}"\n\n'
                                   '[build-system]\nrequires = ["setuptools"]\n'
                                   'build-backend = "setuptools.build_meta"\n').encode(),
        f"{root}/setup.py": b"from setuptools import setup\nsetup()\n",
        f"{root}/{base}/__init__.py": module_source(name, version),
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in files.items():
            entry = tarfile.TarInfo(path)
            entry.size = len(data)
            entry.mode = 0o644
            entry.mtime = TAR_MTIME
            tar.addfile(entry, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return Dist(name, version, f"{root}.tar.gz", packed.getvalue(), pkg_info, "sdist", fields)


# --------------------------------------------------------------------------- the legacy upload API over HTTP


def upload_fields(dist: Dist, **overrides) -> dict[str, object]:
    """The text fields twine sends for `dist` (twine 7: sha256 + blake2_256, no md5). An override
    of None drops the field; a list value is sent as a repeated field."""
    fields: dict[str, object] = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": dist.name,
        "version": dist.version,
        "filetype": dist.filetype,
        "pyversion": dist.filename.split("-")[-3] if dist.is_wheel else "source",
        "sha256_digest": dist.sha256,
        "blake2_256_digest": hashlib.blake2b(dist.content, digest_size=32).hexdigest(),
    }
    for key, form_key in (("summary", "summary"), ("license", "license"), ("home_page", "home_page"),
                          ("requires_python", "requires_python")):
        if dist.fields.get(key) is not None:
            fields[form_key] = dist.fields[key]
    if dist.fields.get("requires_dist"):
        fields["requires_dist"] = list(dist.fields["requires_dist"])
    for key, value in overrides.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    return fields


def post_upload(url: str, dist: Dist, headers: dict | None = None, session: requests.Session | None = None,
                **overrides) -> requests.Response:
    """POST `dist` to `url` (the repository endpoint) as multipart/form-data, the way twine does."""
    form: list[tuple[str, object]] = []
    for key, value in upload_fields(dist, **overrides).items():
        for item in value if isinstance(value, list) else [value]:
            form.append((key, (None, str(item))))
    form.append(("content", (dist.filename, dist.content, "application/octet-stream")))
    return (session or requests).post(url, files=form, headers=headers or {}, timeout=HTTP_TIMEOUT_S)


def upload(endpoint: str, token: str | None, dist: Dist, **overrides) -> requests.Response:
    return post_upload(endpoint, dist, headers=basic(token) if token is not None else {}, **overrides)


def upload_ok(endpoint: str, token: str, *dists: Dist) -> None:
    for dist in dists:
        response = upload(endpoint, token, dist)
        assert response.status_code == 200, (dist.filename, response.status_code, response.text[:500])


# --------------------------------------------------------------------------- the simple API over HTTP


def http_get(url: str, token: str | None = None, accept: str | None = None, headers: dict | None = None,
             session: requests.Session | None = None, redirects: bool = True) -> requests.Response:
    """GET with Basic `aws:<token>` (if given) and `Accept` (if given)."""
    sent = dict(headers or {})
    if token is not None:
        sent.update(basic(token))
    if accept is not None:
        sent["Accept"] = accept
    return (session or requests).get(url, headers=sent, timeout=HTTP_TIMEOUT_S, allow_redirects=redirects)


@dataclass
class Anchor:
    href: str
    text: str
    attrs: dict[str, str | None]


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[Anchor] = []
        self._open: Anchor | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            values = dict(attrs)
            self._open = Anchor(values.get("href") or "", "", values)

    def handle_data(self, data):
        if self._open is not None:
            self._open.text += data

    def handle_endtag(self, tag):
        if tag == "a" and self._open is not None:
            self._open.text = self._open.text.strip()
            self.anchors.append(self._open)
            self._open = None


def anchors(html: str) -> list[Anchor]:
    """Every `<a>` of a page, attribute values unescaped (the HTML parser does that)."""
    parser = _AnchorParser()
    parser.feed(html)
    parser.close()
    return parser.anchors


def anchors_by_text(html: str) -> dict[str, Anchor]:
    found: dict[str, Anchor] = {}
    for anchor in anchors(html):
        assert anchor.text not in found, f"{anchor.text!r} linked twice"
        found[anchor.text] = anchor
    return found


def split_link(page_url: str, href: str) -> tuple[str, str]:
    """(absolute URL without fragment, fragment) of a link on the page at `page_url`."""
    url, fragment = urldefrag(urljoin(page_url, href))
    return url, fragment


def assert_401(response: requests.Response) -> None:
    assert response.status_code == 401, (response.status_code, response.text[:300])
    challenge = response.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Basic") and 'realm="reliquary"' in challenge, challenge


# --------------------------------------------------------------------------- the real clients


class ClientFailed(AssertionError):
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


def venv_script(name: str) -> Path | None:
    """`name` next to the interpreter running the suite (the project venv), if it is there."""
    script = Path(sys.executable).parent / name
    return script if script.exists() else None


def hermetic_env(**extra: str) -> dict[str, str]:
    """The caller's environment without PIP_*/UV_*/TWINE_*/keyring settings, plus pip's and
    keyring's isolation: no config file, no keyring, no prompts, no version check."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(CLIENT_ENV_PREFIXES)}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INPUT="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_KEYRING_PROVIDER="disabled",
        PIP_RETRIES="0",
        PIP_DEFAULT_TIMEOUT="60",
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(extra)
    return env


def run_client(argv: list[str], env: dict[str, str], cwd: Path | None = None,
               check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S,
                          stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise ClientFailed(argv, proc.returncode, proc.stdout, proc.stderr)
    return proc


def fails(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> ClientFailed:
    """Run a client, require a non-zero exit, return the failure (stdout/stderr/output)."""
    proc = run_client(argv, env, cwd=cwd, check=False)
    assert proc.returncode != 0, f"{' '.join(argv)} succeeded\n{proc.stdout}\n{proc.stderr}"
    return ClientFailed(argv, proc.returncode, proc.stdout, proc.stderr)


def pip_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "pip", *args]


def pip_install_argv(index: str, target: Path, *requirements: str, deps: bool = False,
                     options: tuple[str, ...] = ()) -> list[str]:
    """`pip install --no-cache-dir --index-url <index> --target <target> [--no-deps] [options] reqs...`."""
    argv = pip_argv("install", "--no-cache-dir", "--index-url", index, "--target", str(target),
                    "--no-compile", "--progress-bar", "off", *options)
    if not deps:
        argv.append("--no-deps")
    return argv + list(requirements)


def pip_install(index: str, target: Path, *requirements: str, deps: bool = False,
                check: bool = True) -> subprocess.CompletedProcess:
    return run_client(pip_install_argv(index, target, *requirements, deps=deps), hermetic_env(), check=check)


def pip_install_fails(index: str, target: Path, *requirements: str, options: tuple[str, ...] = ()) -> ClientFailed:
    """pip install must fail. pip logs why an index page could not be fetched (e.g. its 401) only at
    debug level: pass options=("-vv",) to see it in the output."""
    return fails(pip_install_argv(index, target, *requirements, options=options), hermetic_env())


def installed_version(target: Path, name: str) -> str | None:
    """The version pip/uv installed into `target` (from its `.dist-info`), None when absent."""
    found = sorted(target.glob(f"{dist_name(name)}-*.dist-info")) if target.exists() else []
    assert len(found) <= 1, found
    if not found:
        return None
    for line in (found[0] / "METADATA").read_text().splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no Version in {found[0]}/METADATA")


def installed_module(target: Path, name: str) -> str:
    return (target / dist_name(name) / "__init__.py").read_text()


def twine_argv(*args: str) -> list[str]:
    script = venv_script("twine")
    return [str(script) if script else sys.executable, *([] if script else ["-m", "twine"]), *args]


def twine_upload(endpoint: str | None, token: str | None, paths: list[Path], *extra: str,
                 env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """`twine upload --non-interactive --disable-progress-bar [--repository-url E -u aws -p T] paths`."""
    args = ["upload", "--non-interactive", "--disable-progress-bar"]
    if endpoint is not None:
        args += ["--repository-url", endpoint]
    if token is not None:
        args += ["-u", "aws", "-p", token]
    argv = twine_argv(*args, *extra, *[str(p) for p in paths])
    return run_client(argv, env or hermetic_env(), check=check)


def uv_binary() -> str | None:
    script = venv_script("uv")
    return str(script) if script else shutil.which("uv")


def uv_env(cache: Path) -> dict[str, str]:
    return hermetic_env(UV_CACHE_DIR=str(cache), UV_NO_CONFIG="1", UV_PYTHON_DOWNLOADS="never",
                        UV_NO_PROGRESS="1", UV_HTTP_TIMEOUT="60")


def uv_pip_install(index: str, target: Path, cache: Path, *requirements: str,
                   check: bool = True) -> subprocess.CompletedProcess:
    binary = uv_binary()
    assert binary, "uv is not installed"
    argv = [binary, "pip", "install", "--index-url", index, "--target", str(target), "--python", sys.executable,
            "--no-deps", *requirements]
    return run_client(argv, uv_env(cache), check=check)


# --------------------------------------------------------------------------- servers and the aws CLI


@dataclass
class AwsCliIn(AwsCli):
    """support.AwsCli run in a given environment on top of its own: `extra_env` is added and the
    caller's PIP_*/TWINE_* variables are dropped (for `aws codeartifact login`, which runs `pip
    config set` or writes `~/.pypirc`)."""

    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in super().env().items() if not k.upper().startswith(CLIENT_ENV_PREFIXES)}
        env.update(self.extra_env)
        return env
