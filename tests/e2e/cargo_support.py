"""Helpers of the Cargo tests (and bench/cargo_index.py): endpoints and tokens, the sparse index
layout, `.crate` files and publish bodies built in code, cargo's error shape, and `cargo` run with
its own CARGO_HOME against one registry."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import struct
import subprocess
import tarfile
from pathlib import Path

import requests

CARGO = shutil.which("cargo")
HTTP_TIMEOUT_S = 30

def cargo_endpoint(client, domain: str, repository: str) -> str:
    endpoint = client.get_repository_endpoint(domain=domain, repository=repository,
                                              format="cargo")["repositoryEndpoint"]
    assert endpoint.endswith("/") and "/cargo/d/" in endpoint, endpoint
    return endpoint


def auth_token(client, domain: str) -> str:
    return client.get_authorization_token(domain=domain)["authorizationToken"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def index_path(name: str) -> str:
    name = name.lower()
    if len(name) <= 2:
        return f"{len(name)}/{name}"
    if len(name) == 3:
        return f"3/{name[0]}/{name}"
    return f"{name[:2]}/{name[2:4]}/{name}"


def index_lines(endpoint: str, token: str, name: str) -> dict[str, dict]:
    """{vers: line} of the crate's index file (asserting 200)."""
    response = requests.get(endpoint + index_path(name), headers=bearer(token), timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200, (response.status_code, response.text[:500])
    lines = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    return {line["vers"]: line for line in lines}


def manifest(name: str, version: str, extra: str = "") -> str:
    return f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\n{extra}'


def make_crate(name: str, version: str, toml: str | None = None, files: dict[str, bytes] | None = None) -> bytes:
    """A .crate (gzipped tar of `<name>-<version>/…`) as `cargo package` makes it."""
    contents = {"Cargo.toml": (toml if toml is not None else manifest(name, version)).encode(),
                "src/lib.rs": f"pub const VERSION: &str = \"{version}\";\n".encode()}
    contents.update(files or {})
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path, data in contents.items():
            info = tarfile.TarInfo(f"{name}-{version}/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def publish_body(metadata: dict, crate: bytes) -> bytes:
    meta = json.dumps(metadata).encode()
    return struct.pack("<I", len(meta)) + meta + struct.pack("<I", len(crate)) + crate


def new_crate(name: str, version: str, **fields) -> dict:
    metadata = {"name": name, "vers": version, "deps": [], "features": {}, "authors": [],
                "description": f"{name} for tests", "documentation": None, "homepage": None, "readme": None,
                "readme_file": None, "keywords": [], "categories": [], "license": "MIT", "license_file": None,
                "repository": None, "badges": {}, "links": None, "rust_version": None}
    metadata.update(fields)
    return metadata


def put_new(endpoint: str, token: str | None, body: bytes) -> requests.Response:
    headers = bearer(token) if token else {}
    return requests.put(endpoint + "api/v1/crates/new", data=body, headers=headers, timeout=HTTP_TIMEOUT_S)


def publish_ok(endpoint: str, token: str, name: str, version: str, **fields) -> bytes:
    crate = make_crate(name, version, files=fields.pop("files", None))
    response = put_new(endpoint, token, publish_body(new_crate(name, version, **fields), crate))
    assert response.status_code == 200, (response.status_code, response.text)
    return crate


def cargo_error(response: requests.Response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    assert list(body) == ["errors"] and len(body["errors"]) == 1, body
    return body["errors"][0]["detail"]


def cargo_package(domain: str, repository: str, name: str) -> dict:
    return {"domain": domain, "repository": repository, "format": "cargo", "package": name}


def versions_in(client, domain: str, repository: str, name: str) -> dict[str, str]:
    try:
        listed = client.list_package_versions(**cargo_package(domain, repository, name))["versions"]
    except client.exceptions.ResourceNotFoundException:
        return {}
    return {v["version"]: v["status"] for v in listed}


class Cargo:
    """`cargo` with its own CARGO_HOME, one registry `NAME` = the endpoint, token as `Bearer`."""

    def __init__(self, home: Path, endpoint: str, token: str | None, registry: str = "reliq"):
        self.home = home
        self.registry = registry
        home.mkdir(parents=True, exist_ok=True)
        config = f'[registries.{registry}]\nindex = "sparse+{endpoint}"\ncredential-provider = "cargo:token"\n'
        if token is not None:
            config += f'token = "Bearer {token}"\n'
        config += '[net]\nretry = 0\n[http]\ntimeout = 30\n'
        (home / "config.toml").write_text(config)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARGO_") and k != "RUSTC_WRAPPER"}
        env.update(CARGO_HOME=str(self.home), CARGO_TERM_COLOR="never",
                   CARGO_TARGET_DIR=str(self.home / "target"))
        return env

    def run(self, args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
        out = subprocess.run([CARGO, *args], cwd=cwd, env=self.env(), capture_output=True, text=True, timeout=300)
        if check:
            assert out.returncode == 0, f"cargo {' '.join(args)} failed ({out.returncode}):\n{out.stderr[-3000:]}"
        return out

    def library(self, root: Path, name: str, version: str, body: str = "") -> Path:
        path = root / f"{name}-{version}"
        (path / "src").mkdir(parents=True, exist_ok=True)
        (path / "Cargo.toml").write_text(
            manifest(name, version, f'description = "test crate"\nlicense = "MIT"\nreadme = "README.md"\n'
                     f'publish = ["{self.registry}"]\n'))
        (path / "README.md").write_text(f"# {name}\n\nversion {version}\n")
        (path / "src" / "lib.rs").write_text(f'pub const VERSION: &str = "{version}";\n{body}')
        return path

    def publish(self, crate_dir: Path, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(["publish", "--registry", self.registry, "--allow-dirty", "--no-verify"], crate_dir, check)

    def consumer(self, root: Path, dependency: str, requirement: str) -> Path:
        path = root / "consumer"
        (path / "src").mkdir(parents=True, exist_ok=True)
        (path / "Cargo.toml").write_text(manifest("consumer", "0.1.0", f'publish = false\n\n[dependencies]\n'
                                                  f'{dependency} = {{ version = "{requirement}", registry = "{self.registry}" }}\n'))
        module = dependency.replace("-", "_")
        (path / "src" / "main.rs").write_text(f'fn main() {{ println!("{{}}", {module}::VERSION); }}\n')
        return path

    def locked_version(self, consumer: Path, name: str) -> str:
        lock = (consumer / "Cargo.lock").read_text()
        blocks = [b for b in lock.split("[[package]]") if f'name = "{name}"' in b]
        assert len(blocks) == 1, lock
        return blocks[0].split('version = "')[1].split('"')[0]
