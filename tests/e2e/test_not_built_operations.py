"""Operations of the model that are not built yet, and requests that name no operation at all.

NOT_BUILT is the list to shrink: when an operation lands, delete its name here and add its own
tests. Until then each one must answer ValidationException (400), reason UNKNOWN_OPERATION, with
a message that names the operation."""

from __future__ import annotations

import json

import botocore.session
from botocore import xform_name
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from support import ACCESS_KEY_ID, CLIENT_REGION, REPO_ROOT, SECRET_ACCESS_KEY, expect_error

BUILT = {
    "CreateDomain", "DescribeDomain", "DeleteDomain", "ListDomains",
    "CreateRepository", "DescribeRepository", "UpdateRepository", "DeleteRepository",
    "ListRepositories", "ListRepositoriesInDomain",
    "AssociateExternalConnection", "DisassociateExternalConnection",
    "GetRepositoryEndpoint", "GetAuthorizationToken",
    "TagResource", "UntagResource", "ListTagsForResource",
    "PublishPackageVersion", "ListPackages", "DescribePackage", "DeletePackage", "PutPackageOriginConfiguration",
    "ListPackageVersions", "DescribePackageVersion", "ListPackageVersionAssets", "GetPackageVersionAsset",
    "GetPackageVersionReadme", "ListPackageVersionDependencies",
    "UpdatePackageVersionsStatus", "DisposePackageVersions", "DeletePackageVersions", "CopyPackageVersions",
}

NOT_BUILT = [
    "CreatePackageGroup",
    "DeleteDomainPermissionsPolicy",
    "DeletePackageGroup",
    "DeleteRepositoryPermissionsPolicy",
    "DescribePackageGroup",
    "GetAssociatedPackageGroup",
    "GetDomainPermissionsPolicy",
    "GetRepositoryPermissionsPolicy",
    "ListAllowedRepositoriesForGroup",
    "ListAssociatedPackages",
    "ListPackageGroups",
    "ListSubPackageGroups",
    "PutDomainPermissionsPolicy",
    "PutRepositoryPermissionsPolicy",
    "UpdatePackageGroup",
    "UpdatePackageGroupOriginConfiguration",
]


def service_model():
    return botocore.session.get_session().get_service_model("codeartifact")


def minimal_value(shape):
    """The smallest input botocore accepts for `shape` (it checks only required/type/min)."""
    kind = shape.type_name
    if kind == "structure":
        return {name: minimal_value(shape.members[name]) for name in shape.required_members}
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        return "a" * max(2, shape.metadata.get("min", 0))
    if kind in ("integer", "long"):
        return max(1, shape.metadata.get("min", 1))
    if kind == "boolean":
        return False
    if kind == "blob":
        return b"x"
    if kind == "list":
        return [minimal_value(shape.member) for _ in range(shape.metadata.get("min", 0))]
    if kind == "map":
        return {}
    raise AssertionError(f"no minimal value for {shape.name} ({kind})")


def test_every_model_operation_is_built_or_listed_as_not_built():
    vendored = json.loads((REPO_ROOT / "model" / "codeartifact-2018-09-22.service.json").read_text())
    operations = set(vendored["operations"])
    assert BUILT.isdisjoint(NOT_BUILT)
    assert operations == BUILT | set(NOT_BUILT)


@pytest.mark.not_built
@pytest.mark.parametrize("operation", NOT_BUILT)
def test_operation_not_built_yet_is_an_unknown_operation(client, operation):
    op_model = service_model().operation_model(operation)
    kwargs = minimal_value(op_model.input_shape) if op_model.input_shape else {}
    method = getattr(client, xform_name(operation))
    response = expect_error(client, "ValidationException", 400, method, **kwargs)
    assert response["reason"] == "UNKNOWN_OPERATION"
    assert operation in response["Error"]["Message"]


def signed(method: str, url: str, body: bytes = b"") -> requests.Response:
    request = AWSRequest(method=method, url=url, data=body,
                         headers={"Content-Type": "application/json"} if body else {})
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "codeartifact", CLIENT_REGION).add_auth(request)
    prepared = request.prepare()
    return requests.request(prepared.method, prepared.url, headers=dict(prepared.headers),
                            data=prepared.body, timeout=30)


@pytest.mark.parametrize("path", ["/v1/nonexistent", "/v1/domain/nonexistent"])
def test_unknown_path_is_an_unknown_operation(server, path):
    response = signed("POST", f"{server.url}{path}", b"{}")
    assert response.status_code == 400, response.text
    assert response.headers["x-amzn-ErrorType"].split(":")[0] == "ValidationException"
    assert response.headers.get("x-amzn-RequestId")
    body = json.loads(response.content)
    assert body["reason"] == "UNKNOWN_OPERATION"
    assert body["message"]
