//! Tests of the generated wire layer against the vendored model.

use std::collections::HashMap;

use reliquary_wire::*;
use serde_json::{Value, json};

const SERVICE: &str = include_str!("../../../model/codeartifact-2018-09-22.service.json");
const PAGINATORS: &str = include_str!("../../../model/codeartifact-2018-09-22.paginators.json");

fn model() -> Value {
    serde_json::from_str(SERVICE).expect("model parses")
}

/// Parses a request of type `T` from a query string, headers and a body.
fn parse_with<T>(
    from_wire: fn(&RawRequest<'_>) -> Result<T, ValidationError>,
    query: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<T, ValidationError> {
    let query = QueryParams::parse(query);
    let headers: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
        .collect();
    let header = |name: &str| headers.get(&name.to_ascii_lowercase()).cloned();
    from_wire(&RawRequest {
        query: &query,
        header: &header,
        body: body.as_bytes(),
    })
}

fn parse<T>(
    from_wire: fn(&RawRequest<'_>) -> Result<T, ValidationError>,
    query: &str,
    body: &str,
) -> Result<T, ValidationError> {
    parse_with(from_wire, query, &[], body)
}

fn field_error<T: std::fmt::Debug>(result: Result<T, ValidationError>) -> String {
    let err = result.expect_err("request must be rejected");
    assert_eq!(
        err.reason,
        ValidationReason::FieldValidationFailed,
        "{}",
        err.message
    );
    err.message
}

// ---- operations and routes ---------------------------------------------------------------------

#[test]
fn every_operation_routes_and_back() {
    let model = model();
    let ops = model["operations"].as_object().expect("operations");
    assert_eq!(ops.len(), 48);
    assert_eq!(Operation::ALL.len(), 48);
    for (name, op) in ops {
        let method = op["http"]["method"].as_str().expect("method");
        let uri = op["http"]["requestUri"].as_str().expect("uri");
        let operation = Operation::from_name(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(operation.name(), name);
        assert_eq!(operation.http_method(), method, "{name}");
        assert_eq!(operation.uri(), uri, "{name}");
        assert_eq!(route(method, uri), Some(operation), "{method} {uri}");
        assert_eq!(
            operation.input_shape(),
            op["input"]["shape"].as_str().expect("input")
        );
        assert_eq!(
            operation.output_shape(),
            op["output"]["shape"].as_str().expect("output")
        );
        let errors: Vec<&str> = operation.errors().iter().map(|e| e.name()).collect();
        let modeled: Vec<&str> = op["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["shape"].as_str().expect("shape"))
            .collect();
        assert_eq!(errors, modeled, "{name}");
    }
    for operation in Operation::ALL {
        assert_eq!(
            route(operation.http_method(), operation.uri()),
            Some(operation)
        );
        assert_eq!(operation.to_string(), operation.name());
    }
}

#[test]
fn shared_paths_dispatch_by_method() {
    assert_eq!(route("POST", "/v1/domain"), Some(Operation::CreateDomain));
    assert_eq!(route("GET", "/v1/domain"), Some(Operation::DescribeDomain));
    assert_eq!(route("DELETE", "/v1/domain"), Some(Operation::DeleteDomain));
    assert_eq!(
        route("POST", "/v1/package"),
        Some(Operation::PutPackageOriginConfiguration)
    );
    assert_eq!(
        route("PUT", "/v1/repository"),
        Some(Operation::UpdateRepository)
    );
    assert_eq!(
        route("DELETE", "/v1/repository/permissions/policies"),
        Some(Operation::DeleteRepositoryPermissionsPolicy)
    );
    assert_eq!(route("DELETE", "/v1/repository/permissions/policy"), None);
    assert_eq!(
        route("GET", "/v1/repository/permissions/policy"),
        Some(Operation::GetRepositoryPermissionsPolicy)
    );
}

#[test]
fn unknown_routes() {
    assert_eq!(route("GET", "/v1/nothing"), None);
    assert_eq!(route("PATCH", "/v1/domain"), None);
    assert_eq!(route("get", "/v1/domain"), None);
    assert_eq!(route("GET", "/"), None);
    assert_eq!(route("GET", ""), None);
    assert_eq!(Operation::from_name("Nope"), None);
}

#[test]
fn paginators_match_the_file() {
    let file: Value = serde_json::from_str(PAGINATORS).expect("paginators parse");
    let pages = file["pagination"].as_object().expect("pagination");
    for operation in Operation::ALL {
        match pages.get(operation.name()) {
            None => assert_eq!(operation.paginator(), None, "{operation}"),
            Some(p) => {
                let got = operation.paginator().expect("paginator");
                assert_eq!(got.input_token, p["input_token"]);
                assert_eq!(got.output_token, p["output_token"]);
                assert_eq!(got.limit_key, p["limit_key"].as_str());
                assert_eq!(
                    got.result_key,
                    [p["result_key"].as_str().expect("single key")]
                );
            }
        }
    }
    let list_domains = Operation::ListDomains.paginator().expect("paginated");
    assert_eq!(list_domains.limit_key, Some("maxResults"));
    assert_eq!(list_domains.result_key, ["domains"]);
}

#[test]
fn error_shapes() {
    let expected = [
        (ErrorShape::ValidationException, 400),
        (ErrorShape::ServiceQuotaExceededException, 402),
        (ErrorShape::AccessDeniedException, 403),
        (ErrorShape::ResourceNotFoundException, 404),
        (ErrorShape::ConflictException, 409),
        (ErrorShape::ThrottlingException, 429),
        (ErrorShape::InternalServerException, 500),
    ];
    assert_eq!(ErrorShape::ALL.len(), 7);
    for (shape, status) in expected {
        assert_eq!(shape.status(), status, "{shape}");
        assert_eq!(shape.is_fault(), status == 500, "{shape}");
        assert_eq!(ErrorShape::from_name(shape.name()), Some(shape));
    }
    let err = ThrottlingException {
        message: "slow down".into(),
        retry_after_seconds: Some(3),
    };
    assert_eq!(
        serde_json::to_value(&err).expect("serializes"),
        json!({"message": "slow down"})
    );
    assert_eq!(err.headers(), vec![("Retry-After", "3".to_owned())]);
    let err = ResourceNotFoundException {
        message: "gone".into(),
        resource_id: Some("d".into()),
        resource_type: Some(ResourceType::PackageVersion),
    };
    assert_eq!(
        serde_json::to_value(&err).expect("serializes"),
        json!({"message": "gone", "resourceId": "d", "resourceType": "package-version"})
    );
}

// ---- enums and patterns ------------------------------------------------------------------------

#[test]
fn enums_follow_the_model() {
    assert_eq!(
        PackageVersionErrorCode::AlreadyExists.as_str(),
        "ALREADY_EXISTS"
    );
    assert_eq!(HashAlgorithm::parse("SHA-256"), Some(HashAlgorithm::Sha256));
    assert_eq!(PackageVersionStatus::Published.as_str(), "Published");
    assert_eq!(PackageFormat::parse("npm"), Some(PackageFormat::Npm));
    assert_eq!(PackageFormat::parse("NPM"), None);
    assert_eq!(
        PackageFormat::VALUES,
        [
            "npm", "pypi", "maven", "nuget", "generic", "ruby", "swift", "cargo"
        ]
    );
    assert_eq!(
        serde_json::to_value(HashAlgorithm::Sha512).expect("serializes"),
        json!("SHA-512")
    );
    let parsed: ResourceType =
        serde_json::from_value(json!("package-version")).expect("deserializes");
    assert_eq!(parsed, ResourceType::PackageVersion);

    let model = model();
    for (name, shape) in model["shapes"].as_object().expect("shapes") {
        if name == "ValidationExceptionReason" {
            let values: Vec<&str> = shape["enum"]
                .as_array()
                .expect("enum")
                .iter()
                .map(|v| v.as_str().expect("str"))
                .collect();
            assert_eq!(ValidationReason::VALUES, values.as_slice());
            for v in values {
                assert_eq!(
                    ValidationReason::parse(v).map(ValidationReason::as_str),
                    Some(v)
                );
            }
        }
    }
}

#[test]
fn all_model_patterns_compile() {
    let model = model();
    let mut expected = 0;
    for (name, shape) in model["shapes"].as_object().expect("shapes") {
        let Some(pattern) = shape.get("pattern").and_then(Value::as_str) else {
            continue;
        };
        expected += 1;
        let (_, model_pattern, regex) = PATTERNS
            .iter()
            .find(|(shape, _, _)| shape == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(*model_pattern, pattern);
        std::sync::LazyLock::force(regex);
    }
    assert_eq!(PATTERNS.len(), expected);
}

// ---- request parsing and validation ------------------------------------------------------------

#[test]
fn create_domain_valid() {
    let req = parse(
        CreateDomainRequest::from_wire,
        "domain=my-domain",
        r#"{"encryptionKey": "arn:aws:kms:us-east-1:111122223333:key/k", "tags": [{"key": "a", "value": ""}]}"#,
    )
    .expect("valid");
    assert_eq!(req.domain, "my-domain");
    assert_eq!(
        req.encryption_key.as_deref(),
        Some("arn:aws:kms:us-east-1:111122223333:key/k")
    );
    assert_eq!(
        req.tags,
        Some(vec![Tag {
            key: "a".into(),
            value: String::new()
        }])
    );

    for body in ["", "{}", "  \n", "null"] {
        let req = parse(CreateDomainRequest::from_wire, "domain=my-domain", body)
            .expect("empty body is fine");
        assert_eq!(
            req,
            CreateDomainRequest {
                domain: "my-domain".into(),
                encryption_key: None,
                tags: None
            }
        );
    }
    // Unknown members are ignored.
    parse(
        CreateDomainRequest::from_wire,
        "domain=dd&other=1",
        r#"{"whatever": [1, 2]}"#,
    )
    .expect("valid");
}

#[test]
fn create_domain_missing_domain() {
    let message = field_error(parse(CreateDomainRequest::from_wire, "", ""));
    assert_eq!(
        message,
        "1 validation error detected: Value null at 'domain' failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn create_domain_too_long() {
    let domain = "a".repeat(60);
    let message = field_error(parse(
        CreateDomainRequest::from_wire,
        &format!("domain={domain}"),
        "",
    ));
    assert_eq!(
        message,
        format!(
            "2 validation errors detected: \
             Value '{domain}' at 'domain' failed to satisfy constraint: Member must have length less than or equal to 50; \
             Value '{domain}' at 'domain' failed to satisfy constraint: Member must satisfy regular expression pattern: \
             [a-z][a-z0-9\\-]{{0,48}}[a-z0-9]"
        )
    );
    let message = field_error(parse(CreateDomainRequest::from_wire, "domain=a", ""));
    assert!(
        message.contains("Member must have length greater than or equal to 2"),
        "{message}"
    );
}

#[test]
fn create_domain_bad_pattern() {
    let message = field_error(parse(CreateDomainRequest::from_wire, "domain=abc_", ""));
    assert_eq!(
        message,
        "1 validation error detected: Value 'abc_' at 'domain' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: [a-z][a-z0-9\\-]{0,48}[a-z0-9]"
    );
}

#[test]
fn nested_members_are_validated() {
    let body = r#"{"tags": [{"key": "ok", "value": "v"}, {"value": "v"}], "encryptionKey": ""}"#;
    let message = field_error(parse(CreateDomainRequest::from_wire, "domain=dd", body));
    assert_eq!(
        message,
        "3 validation errors detected: \
         Value '' at 'encryptionKey' failed to satisfy constraint: Member must have length greater than or equal to 1; \
         Value '' at 'encryptionKey' failed to satisfy constraint: Member must satisfy regular expression pattern: \\S+; \
         Value null at 'tags.2.member.key' failed to satisfy constraint: Member must not be null"
    );
    let body = r#"{"upstreams": [{"repositoryName": "x"}]}"#;
    let message = field_error(parse(
        CreateRepositoryRequest::from_wire,
        "domain=dd&repository=repo",
        body,
    ));
    assert!(
        message.contains("at 'upstreams.1.member.repositoryName'"),
        "{message}"
    );
    let ok = parse(
        CreateRepositoryRequest::from_wire,
        "domain=dd&repository=repo",
        r#"{"upstreams": [{"repositoryName": "up"}]}"#,
    )
    .expect("valid");
    assert_eq!(
        ok.upstreams,
        Some(vec![UpstreamRepository {
            repository_name: "up".into()
        }])
    );
}

#[test]
fn list_domains_body() {
    let message = field_error(parse(
        ListDomainsRequest::from_wire,
        "",
        r#"{"maxResults": 5000}"#,
    ));
    assert_eq!(
        message,
        "1 validation error detected: Value '5000' at 'maxResults' failed to satisfy constraint: \
         Member must have value less than or equal to 1000"
    );
    let message = field_error(parse(
        ListDomainsRequest::from_wire,
        "",
        r#"{"maxResults": 0}"#,
    ));
    assert!(
        message.contains("Member must have value greater than or equal to 1"),
        "{message}"
    );

    for bad in [
        r#"{"maxResults":"x"}"#,
        r#"{"maxResults": 1.5}"#,
        "{not json",
        "[1]",
        r#"{"nextToken": 5}"#,
    ] {
        let err = parse(ListDomainsRequest::from_wire, "", bad).expect_err(bad);
        assert_eq!(
            err.reason,
            ValidationReason::CannotParse,
            "{bad}: {}",
            err.message
        );
    }

    let req = parse(ListDomainsRequest::from_wire, "", "").expect("empty body");
    assert_eq!(req, ListDomainsRequest::default());
    let req = parse(
        ListDomainsRequest::from_wire,
        "",
        r#"{"maxResults": 10, "nextToken": "t"}"#,
    )
    .expect("valid");
    assert_eq!(req.max_results, Some(10));
    assert_eq!(req.next_token.as_deref(), Some("t"));
}

#[test]
fn query_numbers_and_booleans() {
    let req = parse(ListRepositoriesRequest::from_wire, "max-results=25", "").expect("valid");
    assert_eq!(req.max_results, Some(25));
    let message = field_error(parse(
        ListRepositoriesRequest::from_wire,
        "max-results=abc",
        "",
    ));
    assert!(message.contains("Value 'abc' at 'maxResults'"), "{message}");
    let message = field_error(parse(
        ListRepositoriesRequest::from_wire,
        "max-results=1001",
        "",
    ));
    assert!(
        message.contains("Member must have value less than or equal to 1000"),
        "{message}"
    );

    let q = "domain=dd&package-group=/npm/*&preview=true";
    assert_eq!(
        parse(ListAssociatedPackagesRequest::from_wire, q, "")
            .expect("valid")
            .preview,
        Some(true)
    );
    let q = "domain=dd&package-group=/npm/*&preview=yes";
    let message = field_error(parse(ListAssociatedPackagesRequest::from_wire, q, ""));
    assert!(message.contains("Value 'yes' at 'preview'"), "{message}");

    let req = parse(
        GetAuthorizationTokenRequest::from_wire,
        "domain=dd&duration=900",
        "",
    )
    .expect("valid");
    assert_eq!(req.duration_seconds, Some(900));
    let message = field_error(parse(
        GetAuthorizationTokenRequest::from_wire,
        "domain=dd&duration=43201",
        "",
    ));
    assert!(message.contains("at 'durationSeconds'"), "{message}");
}

#[test]
fn copy_package_versions() {
    let query =
        "domain=dd&source-repository=src&destination-repository=dst&format=npm&package=left-pad";
    let versions: Vec<String> = (0..101).map(|i| format!("1.0.{i}")).collect();
    let body = json!({ "versions": versions }).to_string();
    let message = field_error(parse(CopyPackageVersionsRequest::from_wire, query, &body));
    assert!(
        message.starts_with("1 validation error detected: Value '[1.0.0, 1.0.1, "),
        "{message}"
    );
    assert!(
        message.ends_with("' at 'versions' failed to satisfy constraint: Member must have length less than or equal to 100"),
        "{message}"
    );

    let bogus = query.replace("format=npm", "format=bogus");
    let message = field_error(parse(
        CopyPackageVersionsRequest::from_wire,
        &bogus,
        r#"{"versions": ["1.0.0"]}"#,
    ));
    assert_eq!(
        message,
        "1 validation error detected: Value 'bogus' at 'format' failed to satisfy constraint: \
         Member must satisfy enum value set: [npm, pypi, maven, nuget, generic, ruby, swift, cargo]"
    );

    let body =
        r#"{"versions": ["1.0.0"], "versionRevisions": {"1.0.0": "rev"}, "allowOverwrite": true}"#;
    let req = parse(CopyPackageVersionsRequest::from_wire, query, body).expect("valid");
    assert_eq!(req.format, PackageFormat::Npm);
    assert_eq!(req.versions, Some(vec!["1.0.0".to_owned()]));
    assert_eq!(req.version_revisions.expect("map")["1.0.0"], "rev");
    assert_eq!(req.allow_overwrite, Some(true));

    let body = r#"{"versionRevisions": {"bad/version": ""}}"#;
    let message = field_error(parse(CopyPackageVersionsRequest::from_wire, query, body));
    assert!(
        message.contains("Value 'bad/version' at 'versionRevisions'"),
        "{message}"
    );
    assert!(
        message.contains("Value '' at 'versionRevisions.bad/version'"),
        "{message}"
    );
}

#[test]
fn body_enums_and_maps_with_enum_keys() {
    let query = "domain=dd&repository=repo&format=npm&package=p";
    let body = r#"{"restrictions": {"publish": "ALLOW", "upstream": "BLOCK"}}"#;
    let req = parse(PutPackageOriginConfigurationRequest::from_wire, query, body).expect("valid");
    assert_eq!(req.restrictions.publish, AllowPublish::Allow);
    assert_eq!(req.restrictions.upstream, AllowUpstream::Block);

    let body = r#"{"restrictions": {"publish": "MAYBE"}}"#;
    let message = field_error(parse(
        PutPackageOriginConfigurationRequest::from_wire,
        query,
        body,
    ));
    assert_eq!(
        message,
        "2 validation errors detected: \
         Value 'MAYBE' at 'restrictions.publish' failed to satisfy constraint: Member must satisfy enum value set: [ALLOW, BLOCK]; \
         Value null at 'restrictions.upstream' failed to satisfy constraint: Member must not be null"
    );
    let message = field_error(parse(
        PutPackageOriginConfigurationRequest::from_wire,
        query,
        "",
    ));
    assert!(
        message.contains("Value null at 'restrictions'"),
        "{message}"
    );

    let query = "domain=dd&package-group=/npm/*";
    let body = r#"{"restrictions": {"PUBLISH": "BLOCK", "EXTERNAL_UPSTREAM": "ALLOW_SPECIFIC_REPOSITORIES"}}"#;
    let req = parse(
        UpdatePackageGroupOriginConfigurationRequest::from_wire,
        query,
        body,
    )
    .expect("valid");
    let restrictions = req.restrictions.expect("restrictions");
    assert_eq!(
        restrictions[&PackageGroupOriginRestrictionType::Publish],
        PackageGroupOriginRestrictionMode::Block
    );
    let body = r#"{"restrictions": {"NOPE": "BLOCK"}}"#;
    let message = field_error(parse(
        UpdatePackageGroupOriginConfigurationRequest::from_wire,
        query,
        body,
    ));
    assert!(
        message.contains("Value 'NOPE' at 'restrictions' failed to satisfy constraint"),
        "{message}"
    );
}

#[test]
fn publish_package_version_reads_the_sha256_header() {
    let query =
        "domain=dd&repository=repo&format=generic&namespace=ns&package=p&version=1.0.0&asset=a.tgz";
    let sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let req = parse_with(
        PublishPackageVersionRequest::from_wire,
        query,
        &[("X-Amz-Content-Sha256", sha)],
        "{bad",
    )
    .expect("the body is not looked at");
    assert_eq!(req.asset_sha256, sha);
    assert_eq!(req.asset_name, "a.tgz");
    assert_eq!(req.package_version, "1.0.0");
    assert_eq!(req.unfinished, None);

    let message = field_error(parse_with(
        PublishPackageVersionRequest::from_wire,
        query,
        &[("x-amz-content-sha256", "abc")],
        "",
    ));
    assert!(
        message.contains("Value 'abc' at 'assetSHA256'"),
        "{message}"
    );
    assert!(
        message.contains("Member must have length greater than or equal to 64"),
        "{message}"
    );

    let upper = sha.to_ascii_uppercase();
    let message = field_error(parse_with(
        PublishPackageVersionRequest::from_wire,
        query,
        &[("x-amz-content-sha256", &upper)],
        "",
    ));
    assert_eq!(
        message,
        format!(
            "1 validation error detected: Value '{upper}' at 'assetSHA256' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [0-9a-f]+"
        )
    );
    let message = field_error(parse(PublishPackageVersionRequest::from_wire, query, ""));
    assert!(message.contains("Value null at 'assetSHA256'"), "{message}");
}

#[test]
fn query_decoding() {
    let q = QueryParams::parse("package-group=%2Fnpm%2F%2A&a=1+2&b=x%20y&a=3&flag&=v&c=%E2%9C%93");
    assert_eq!(q.get("package-group"), Some("/npm/*"));
    assert_eq!(q.get("a"), Some("3"), "last wins");
    assert_eq!(q.get("b"), Some("x y"));
    assert_eq!(q.get("flag"), Some(""));
    assert_eq!(q.get("c"), Some("✓"));
    assert_eq!(
        QueryParams::parse("x=1+2").get("x"),
        Some("1+2"),
        "+ stays +"
    );
    assert_eq!(QueryParams::parse("?d=e").get("d"), Some("e"));
    assert!(QueryParams::parse("").is_empty());

    let req = parse(
        DescribePackageGroupRequest::from_wire,
        "domain=dd&package-group=%2Fnpm%2F%2A",
        "",
    )
    .expect("valid");
    assert_eq!(req.package_group, "/npm/*");
}

#[test]
fn lengths_count_unicode_chars() {
    // TagKey has max 128: 128 two-byte characters (256 bytes) are fine.
    let key = "é".repeat(128);
    let body = json!({ "tags": [{ "key": key, "value": "v" }] }).to_string();
    parse(TagResourceRequest::from_wire, "resourceArn=arn:x", &body).expect("128 chars is fine");
    let key = "é".repeat(129);
    let body = json!({ "tags": [{ "key": key, "value": "v" }] }).to_string();
    let message = field_error(parse(
        TagResourceRequest::from_wire,
        "resourceArn=arn:x",
        &body,
    ));
    assert!(message.contains("at 'tags.1.member.key'"), "{message}");
}

#[test]
fn untag_and_list_tags() {
    let req = parse(
        UntagResourceRequest::from_wire,
        "resourceArn=arn:x",
        r#"{"tagKeys": ["a", "b"]}"#,
    )
    .expect("ok");
    assert_eq!(req.tag_keys, vec!["a".to_owned(), "b".to_owned()]);
    let message = field_error(parse(UntagResourceRequest::from_wire, "", ""));
    assert_eq!(
        message,
        "2 validation errors detected: \
         Value null at 'resourceArn' failed to satisfy constraint: Member must not be null; \
         Value null at 'tagKeys' failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn validation_error_into_exception() {
    let err = parse(CreateDomainRequest::from_wire, "", "").expect_err("missing domain");
    let exception = ValidationException::from(err.clone());
    assert_eq!(
        exception.reason,
        Some(ValidationExceptionReason::FieldValidationFailed)
    );
    assert_eq!(
        serde_json::to_value(&exception).expect("serializes"),
        json!({"message": err.message, "reason": "FIELD_VALIDATION_FAILED"})
    );
}

// ---- responses ---------------------------------------------------------------------------------

#[test]
fn asset_result_headers() {
    let result = GetPackageVersionAssetResult {
        asset_name: Some("a.tgz".into()),
        package_version: Some("1.0.0".into()),
        package_version_revision: None,
    };
    assert_eq!(
        result.headers(),
        vec![
            ("X-AssetName", "a.tgz".to_owned()),
            ("X-PackageVersion", "1.0.0".to_owned())
        ]
    );
    assert_eq!(
        serde_json::to_value(&result).expect("serializes"),
        json!({})
    );
}

#[test]
fn domain_description_serde() {
    let domain = DomainDescription {
        name: Some("my-domain".into()),
        owner: Some("111122223333".into()),
        created_time: Some(1_700_000_000.5),
        status: Some(DomainStatus::Active),
        repository_count: Some(2),
        ..Default::default()
    };
    let value = serde_json::to_value(&domain).expect("serializes");
    assert_eq!(
        value,
        json!({
            "name": "my-domain",
            "owner": "111122223333",
            "createdTime": 1_700_000_000.5,
            "status": "Active",
            "repositoryCount": 2
        })
    );
    assert!(value["createdTime"].is_number());
    assert!(value.get("arn").is_none());
    let back: DomainDescription = serde_json::from_value(value).expect("deserializes");
    assert_eq!(back, domain);

    let result = CreateDomainResult {
        domain: Some(domain),
    };
    let text = serde_json::to_string(&result).expect("serializes");
    assert!(text.starts_with(r#"{"domain":{"#), "{text}");
}
