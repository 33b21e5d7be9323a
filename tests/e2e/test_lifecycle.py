"""Server lifecycle with the real binary: first-start credentials, restart, SIGTERM, /health and
configuration precedence. SQLite only, and not parametrized: these run once per session."""

from __future__ import annotations

import stat

import pytest
import requests

from support import ReliquaryProcess, expect_error, make_client, server_env, unique

pytestmark = pytest.mark.lifecycle

CREDENTIAL_EXPORTS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"}


def serve(tmp_path, *args, env=None) -> ReliquaryProcess:
    return ReliquaryProcess(args=list(args), env=env or server_env(), workdir=tmp_path).start()


def stop_cleanly(process: ReliquaryProcess) -> None:
    code = process.stop()
    assert code == 0, f"exit code {code} after SIGTERM\n{process.diagnostics()}"


def test_first_start_generates_credentials_and_restart_reuses_them(tmp_path):
    data_dir = tmp_path / "data"
    env = server_env(identity=False)

    first = serve(tmp_path, "--listen", "127.0.0.1:0", "--data-dir", str(data_dir), env=env)
    try:
        for name in CREDENTIAL_EXPORTS:
            first.wait_for_stdout(rf"^export {name}=")
        exports = first.exports()
        assert CREDENTIAL_EXPORTS <= exports.keys(), first.stdout_lines
        assert exports["AWS_ENDPOINT_URL"] == first.url
        assert exports["AWS_ACCESS_KEY_ID"] and exports["AWS_SECRET_ACCESS_KEY"]

        credentials = data_dir / "credentials"
        assert credentials.is_file()
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600

        generated = make_client(exports["AWS_ENDPOINT_URL"], access_key=exports["AWS_ACCESS_KEY_ID"],
                                secret_key=exports["AWS_SECRET_ACCESS_KEY"],
                                region=exports.get("AWS_REGION", "us-east-1"))
        name = unique()
        generated.create_domain(domain=name)
        generated.create_repository(domain=name, repository="kept")
    finally:
        stop_cleanly(first)

    second = serve(tmp_path, "--listen", "127.0.0.1:0", "--data-dir", str(data_dir), env=env)
    try:
        again = make_client(second.url, access_key=exports["AWS_ACCESS_KEY_ID"],
                            secret_key=exports["AWS_SECRET_ACCESS_KEY"])
        assert again.describe_domain(domain=name)["domain"]["repositoryCount"] == 1
        assert again.describe_repository(domain=name, repository="kept")["repository"]["name"] == "kept"
        # checked after a few round trips, so anything printed at start-up has been read by now
        assert not [line for line in second.stdout_lines if "export AWS_" in line], second.stdout_lines
        assert stat.S_IMODE((data_dir / "credentials").stat().st_mode) == 0o600
    finally:
        stop_cleanly(second)


def test_configured_identity_prints_no_credentials(tmp_path):
    process = serve(tmp_path, "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"))
    try:
        make_client(process.url).list_domains()
        bad = make_client(process.url, access_key="AKIDSOMEONEELSE00000")
        expect_error(bad, "UnrecognizedClientException", 403, bad.list_domains)
        assert not [line for line in process.stdout_lines if "export AWS_SECRET_ACCESS_KEY" in line]
    finally:
        stop_cleanly(process)


def test_health_answers_200_and_sigterm_exits_0(tmp_path):
    process = serve(tmp_path, "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"))
    try:
        response = requests.get(f"{process.url}/health", timeout=10)
        assert response.status_code == 200
    finally:
        stop_cleanly(process)
    assert (tmp_path / "data" / "reliquary.db").exists(), "default database is <data-dir>/reliquary.db"


def test_flags_beat_environment(tmp_path):
    env_dir, flag_dir = tmp_path / "env-data", tmp_path / "flag-data"
    env = server_env(RELIQUARY_LISTEN="127.0.0.1:1", RELIQUARY_DATA_DIR=str(env_dir))
    process = serve(tmp_path, "--listen", "127.0.0.1:0", "--data-dir", str(flag_dir), env=env)
    try:
        assert process.port not in (0, 1)
        make_client(process.url).create_domain(domain=unique())
    finally:
        stop_cleanly(process)
    assert (flag_dir / "reliquary.db").exists()
    assert not (env_dir / "reliquary.db").exists()


def test_environment_is_used_without_flags(tmp_path):
    data_dir = tmp_path / "env-data"
    env = server_env(RELIQUARY_LISTEN="127.0.0.1:0", RELIQUARY_DATA_DIR=str(data_dir))
    process = serve(tmp_path, env=env)
    try:
        make_client(process.url).create_domain(domain=unique())
    finally:
        stop_cleanly(process)
    assert (data_dir / "reliquary.db").exists()
