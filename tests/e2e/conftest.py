"""Fixtures of the end-to-end suite.

Contract:
- `server`        session-scoped, parametrized ["sqlite", "postgres"] (ids exactly those): a
                  `reliquary serve --listen 127.0.0.1:0` on a temp data dir (postgres: a fresh
                  database, dropped afterwards), identity account 111122223333 / key
                  AKIDRELIQUARYTEST00, RELIQUARY_REGION us-east-1, quota domains_per_account=10000.
                  Stopped with SIGTERM at the end; exit code 0 is asserted (teardown error if not).
                  Attributes: backend, url ("http://127.0.0.1:PORT"), data_dir, process.
- `client`        boto3 codeartifact client for `server` (region us-west-2, no retries).
- `aws`           support.AwsCli for `server`: aws("codeartifact", "describe-domain", "--domain", d)
                  -> parsed JSON; output="text" -> str; non-zero exit raises AwsCliError.
- `domain`        a fresh domain `t-<12 hex>` on `server` (not deleted: names never repeat).
- `quota_server`  session-scoped per backend: quotas domains_per_account=2,
                  repositories_per_domain=3, --public-url http://reliquary.example:9999, with one
                  domain `q-shared` holding one repository `endpoint-repo` created at start.
- `quota_client`  boto3 client for `quota_server`.
Tests that start their own servers (lifecycle) use support.running_server / ReliquaryProcess.
"""

from __future__ import annotations

import pytest

from support import (
    BACKENDS,
    PUBLIC_URL,
    QUOTA_DOMAIN,
    QUOTA_REPOSITORY,
    AwsCli,
    isolate_from_ambient_aws_config,
    make_client,
    running_server,
    unique,
)

isolate_from_ambient_aws_config()

SHARED_QUOTAS = {"domains_per_account": 10000}
SMALL_QUOTAS = {"domains_per_account": 2, "repositories_per_domain": 3}


@pytest.fixture(scope="session", params=BACKENDS, ids=BACKENDS)
def server(request, tmp_path_factory):
    workdir = tmp_path_factory.mktemp(f"server-{request.param}")
    with running_server(request.param, workdir, quotas=SHARED_QUOTAS) as running:
        yield running


@pytest.fixture(scope="session")
def client(server):
    return make_client(server.url)


@pytest.fixture(scope="session")
def aws(server):
    return AwsCli(server.url)


@pytest.fixture
def domain(client):
    name = unique("t")
    client.create_domain(domain=name)
    return name


@pytest.fixture(scope="session", params=BACKENDS, ids=BACKENDS)
def quota_server(request, tmp_path_factory):
    workdir = tmp_path_factory.mktemp(f"quota-server-{request.param}")
    with running_server(request.param, workdir, quotas=SMALL_QUOTAS, public_url=PUBLIC_URL) as running:
        setup = make_client(running.url)
        setup.create_domain(domain=QUOTA_DOMAIN)
        setup.create_repository(domain=QUOTA_DOMAIN, repository=QUOTA_REPOSITORY)
        yield running


@pytest.fixture(scope="session")
def quota_client(quota_server):
    return make_client(quota_server.url)
