//! `/v1/…`: SigV4 verification, routing to a named operation, wire ↔ core conversion.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, request::Parts};
use axum::response::{IntoResponse, Response};
use reliquary_core::{Caller, Page, RepositoryListing, Service};
use reliquary_store::{Domain, Repository, RepositoryUpdate, Tag};
use reliquary_types::{ExternalConnection, RepositoryName};
use reliquary_wire as wire;
use reliquary_wire::{Operation, QueryParams, RawRequest};
use sha2::{Digest as _, Sha256};

use crate::convert::{account, domain_name, json, repository_name};
use crate::{ApiError, AppState};

/// Control-plane request bodies are small JSON documents.
use crate::endpoint::SmallBodyError;

const MAX_BODY_BYTES: usize = 1024 * 1024;

pub(crate) async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    let (operation, result) = serve(&state, parts, body).await;
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    let status = response.status();
    let operation = operation.map_or("-", Operation::name);
    if status.is_server_error() {
        tracing::error!(request.id = %request_id, %method, %path, operation, status = status.as_u16(), "request failed");
    } else {
        tracing::info!(request.id = %request_id, %method, %path, operation, status = status.as_u16(), "request");
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

async fn serve(
    state: &AppState,
    parts: Parts,
    body: Body,
) -> (Option<Operation>, Result<Response, ApiError>) {
    let operation = wire::route(parts.method.as_str(), parts.uri.path());
    let result = if operation == Some(Operation::PublishPackageVersion) {
        // A refused upload may leave its body unread: the connection cannot be reused.
        serve_publish(state, &parts, body).await.map_err(|mut e| {
            e.close_connection = true;
            e
        })
    } else {
        serve_buffered(state, &parts, body, operation).await
    };
    (operation, result)
}

/// PublishPackageVersion: `x-amz-content-sha256` is both the SigV4 payload hash and the asset's
/// hash, so the body is authenticated by streaming it into the blob store and comparing there.
async fn serve_publish(state: &AppState, parts: &Parts, body: Body) -> Result<Response, ApiError> {
    // Authentication comes first, before the request's own fields are validated.
    check_before_body(state, parts)?;
    let declared = parts
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok());
    let Some(declared) = declared else {
        return Err(ApiError::validation(
            "FIELD_VALIDATION_FAILED",
            "1 validation error detected: Value null at 'assetSHA256' failed to satisfy constraint: Member must not be null",
        ));
    };
    // botocore signs the payload as the declared hash; the Rust SDK streams a body signed as
    // `UNSIGNED-PAYLOAD` while sending the same header. Either way the header is the asset's hash
    // and the streamed bytes are checked against it before anything is committed.
    let verified = match verify_signature(parts, state, declared) {
        Err(reliquary_sigv4::Error::SignatureDoesNotMatch) => {
            verify_signature(parts, state, UNSIGNED_PAYLOAD)
        }
        other => other,
    }?;
    let caller = caller_of(state, verified)?;
    let query = QueryParams::parse(parts.uri.query().unwrap_or(""));
    let header = |name: &str| header_value(parts, name);
    let raw = RawRequest {
        query: &query,
        header: &header,
        body: &[],
    };
    crate::packages::publish(&state.service, &caller, &raw, body).await
}

async fn serve_buffered(
    state: &AppState,
    parts: &Parts,
    body: Body,
    operation: Option<Operation>,
) -> Result<Response, ApiError> {
    // Authentication comes first: what can be checked without the body is, so an unsigned,
    // expired or unknown-key request is refused before its body is read.
    check_before_body(state, parts)?;
    let body = match crate::endpoint::small_body(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(e) => {
            let message = match e {
                SmallBodyError::TooLarge(limit) => {
                    format!("The request body exceeds {limit} bytes")
                }
                SmallBodyError::Broken(e) => format!("The request body could not be read: {e}"),
            };
            let mut error = ApiError::validation("OTHER", message);
            error.close_connection = true;
            return Err(error);
        }
    };
    let body_hash = hex::encode(Sha256::digest(&body));
    let declared = parts
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok());
    let caller = authenticate(state, parts, declared.unwrap_or(&body_hash))?;
    if declared.is_some_and(|declared| declared != body_hash) {
        return Err(ApiError::validation(
            "OTHER",
            "x-amz-content-sha256 does not match the request body",
        ));
    }
    let Some(operation) = operation else {
        let message = format!("Unknown operation: {} {}", parts.method, parts.uri.path());
        return Err(ApiError::validation("UNKNOWN_OPERATION", message));
    };
    let query = QueryParams::parse(parts.uri.query().unwrap_or(""));
    let header = |name: &str| header_value(parts, name);
    let raw = RawRequest {
        query: &query,
        header: &header,
        body: &body,
    };
    if let Some(result) = crate::packages::dispatch(&state.service, &caller, operation, &raw).await
    {
        return result;
    }
    dispatch(&state.service, &caller, operation, &raw).await
}

fn header_value(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `check` run on the request as SigV4 sees it, with `payload_sha256` as its payload hash.
fn with_sigv4_request<T>(
    parts: &Parts,
    payload_sha256: &str,
    check: impl FnOnce(&reliquary_sigv4::Request<'_>) -> T,
) -> T {
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    check(&reliquary_sigv4::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        payload_sha256,
    })
}

/// The SigV4 checks that need no body (see [`reliquary_sigv4::check_before_body`]).
fn check_before_body(state: &AppState, parts: &Parts) -> Result<(), ApiError> {
    with_sigv4_request(parts, "", |request| {
        reliquary_sigv4::check_before_body(
            request,
            &*state.credentials,
            time::OffsetDateTime::now_utc(),
        )
    })?;
    Ok(())
}

/// The payload hash SigV4 clients sign when they stream a body they have not hashed.
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

fn verify_signature(
    parts: &Parts,
    state: &AppState,
    payload_sha256: &str,
) -> Result<reliquary_sigv4::Verified, reliquary_sigv4::Error> {
    with_sigv4_request(parts, payload_sha256, |request| {
        reliquary_sigv4::verify(
            request,
            &*state.credentials,
            time::OffsetDateTime::now_utc(),
        )
    })
}

/// Verifies the SigV4 signature and resolves the principal.
fn authenticate(state: &AppState, parts: &Parts, payload_sha256: &str) -> Result<Caller, ApiError> {
    let verified = verify_signature(parts, state, payload_sha256)?;
    caller_of(state, verified)
}

fn caller_of(state: &AppState, verified: reliquary_sigv4::Verified) -> Result<Caller, ApiError> {
    let account = state
        .credentials
        .account(&verified.access_key_id)
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        })?;
    Ok(Caller {
        account,
        access_key_id: verified.access_key_id,
    })
}

fn now_seconds() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn tags(tags: Option<Vec<wire::Tag>>) -> Vec<Tag> {
    tags.unwrap_or_default()
        .into_iter()
        .map(|t| Tag {
            key: t.key,
            value: t.value,
        })
        .collect()
}

fn upstreams(list: &[wire::UpstreamRepository]) -> Result<Vec<RepositoryName>, ApiError> {
    list.iter()
        .map(|u| repository_name("upstreams.repositoryName", &u.repository_name))
        .collect()
}

// ---- rendering core values as wire shapes -------------------------------------------------------

fn domain_description(service: &Service, domain: &Domain) -> wire::DomainDescription {
    wire::DomainDescription {
        name: Some(domain.key.name.to_string()),
        owner: Some(domain.key.owner.to_string()),
        arn: Some(service.domain_arn(&domain.key)),
        status: Some(wire::DomainStatus::Active),
        created_time: Some(domain.created.epoch_seconds()),
        encryption_key: Some(domain.encryption_key.clone()),
        repository_count: Some(i32::try_from(domain.repository_count).unwrap_or(i32::MAX)),
        asset_size_bytes: Some(domain.asset_size_bytes),
        s3_bucket_arn: None,
    }
}

fn domain_summary(service: &Service, domain: &Domain) -> wire::DomainSummary {
    wire::DomainSummary {
        name: Some(domain.key.name.to_string()),
        owner: Some(domain.key.owner.to_string()),
        arn: Some(service.domain_arn(&domain.key)),
        status: Some(wire::DomainStatus::Active),
        created_time: Some(domain.created.epoch_seconds()),
        encryption_key: Some(domain.encryption_key.clone()),
    }
}

fn external_connections(repository: &Repository) -> Vec<wire::RepositoryExternalConnectionInfo> {
    repository
        .external_connections
        .iter()
        .map(|name| wire::RepositoryExternalConnectionInfo {
            external_connection_name: Some(name.clone()),
            package_format: ExternalConnection::parse(name)
                .and_then(|c| wire::PackageFormat::parse(c.format().as_str())),
            status: Some(wire::ExternalConnectionStatus::Available),
        })
        .collect()
}

fn repository_description(
    service: &Service,
    repository: &Repository,
) -> wire::RepositoryDescription {
    wire::RepositoryDescription {
        name: Some(repository.name.to_string()),
        administrator_account: Some(repository.administrator_account.to_string()),
        domain_name: Some(repository.domain.name.to_string()),
        domain_owner: Some(repository.domain.owner.to_string()),
        arn: Some(service.repository_arn(&repository.domain, &repository.name)),
        description: repository.description.clone(),
        upstreams: Some(
            repository
                .upstreams
                .iter()
                .map(|u| wire::UpstreamRepositoryInfo {
                    repository_name: Some(u.to_string()),
                })
                .collect(),
        ),
        external_connections: Some(external_connections(repository)),
        created_time: Some(repository.created.epoch_seconds()),
    }
}

fn repository_summary(service: &Service, repository: &Repository) -> wire::RepositorySummary {
    wire::RepositorySummary {
        name: Some(repository.name.to_string()),
        administrator_account: Some(repository.administrator_account.to_string()),
        domain_name: Some(repository.domain.name.to_string()),
        domain_owner: Some(repository.domain.owner.to_string()),
        arn: Some(service.repository_arn(&repository.domain, &repository.name)),
        description: repository.description.clone(),
        created_time: Some(repository.created.epoch_seconds()),
    }
}

fn repositories_page(
    service: &Service,
    page: Page<Repository>,
) -> (Vec<wire::RepositorySummary>, Option<String>) {
    (
        page.items
            .iter()
            .map(|r| repository_summary(service, r))
            .collect(),
        page.next,
    )
}

// ---- the operations -----------------------------------------------------------------------------

#[expect(clippy::too_many_lines, reason = "one arm per operation of the model")]
async fn dispatch(
    service: &Service,
    caller: &Caller,
    operation: Operation,
    raw: &RawRequest<'_>,
) -> Result<Response, ApiError> {
    match operation {
        Operation::CreateDomain => {
            let req = wire::CreateDomainRequest::from_wire(raw)?;
            let domain = service
                .create_domain(
                    caller,
                    domain_name(&req.domain)?,
                    req.encryption_key,
                    tags(req.tags),
                )
                .await?;
            json(&wire::CreateDomainResult {
                domain: Some(domain_description(service, &domain)),
            })
        }
        Operation::DescribeDomain => {
            let req = wire::DescribeDomainRequest::from_wire(raw)?;
            let owner = account("domainOwner", req.domain_owner.as_ref())?;
            let domain = service
                .describe_domain(caller, domain_name(&req.domain)?, owner)
                .await?;
            json(&wire::DescribeDomainResult {
                domain: Some(domain_description(service, &domain)),
            })
        }
        Operation::DeleteDomain => {
            let req = wire::DeleteDomainRequest::from_wire(raw)?;
            let owner = account("domainOwner", req.domain_owner.as_ref())?;
            let domain = service
                .delete_domain(caller, domain_name(&req.domain)?, owner)
                .await?;
            json(&wire::DeleteDomainResult {
                domain: Some(domain_description(service, &domain)),
            })
        }
        Operation::ListDomains => {
            let req = wire::ListDomainsRequest::from_wire(raw)?;
            let page = service
                .list_domains(caller, req.max_results, req.next_token.as_deref())
                .await?;
            json(&wire::ListDomainsResult {
                domains: Some(
                    page.items
                        .iter()
                        .map(|d| domain_summary(service, d))
                        .collect(),
                ),
                next_token: page.next,
            })
        }
        Operation::CreateRepository => {
            let req = wire::CreateRepositoryRequest::from_wire(raw)?;
            let owner = account("domainOwner", req.domain_owner.as_ref())?;
            let repository = service
                .create_repository(
                    caller,
                    domain_name(&req.domain)?,
                    owner,
                    repository_name("repository", &req.repository)?,
                    req.description,
                    upstreams(req.upstreams.as_deref().unwrap_or_default())?,
                    tags(req.tags),
                )
                .await?;
            json(&wire::CreateRepositoryResult {
                repository: Some(repository_description(service, &repository)),
            })
        }
        Operation::DescribeRepository => {
            let req = wire::DescribeRepositoryRequest::from_wire(raw)?;
            let owner = account("domainOwner", req.domain_owner.as_ref())?;
            let name = repository_name("repository", &req.repository)?;
            let repository = service
                .describe_repository(caller, domain_name(&req.domain)?, owner, &name)
                .await?;
            json(&wire::DescribeRepositoryResult {
                repository: Some(repository_description(service, &repository)),
            })
        }
        Operation::UpdateRepository => {
            let req = wire::UpdateRepositoryRequest::from_wire(raw)?;
            let owner = account("domainOwner", req.domain_owner.as_ref())?;
            let name = repository_name("repository", &req.repository)?;
            let update = RepositoryUpdate {
                description: req.description.map(|d| Some(d).filter(|d| !d.is_empty())),
                upstreams: req.upstreams.as_deref().map(upstreams).transpose()?,
            };
            let repository = service
                .update_repository(caller, domain_name(&req.domain)?, owner, &name, update)
                .await?;
            json(&wire::UpdateRepositoryResult {
                repository: Some(repository_description(service, &repository)),
            })
        }
        Operation::DeleteRepository => {
            let req = wire::DeleteRepositoryRequest::from_wire(raw)?;
            let owner = account("domainOwner", req.domain_owner.as_ref())?;
            let name = repository_name("repository", &req.repository)?;
            let repository = service
                .delete_repository(caller, domain_name(&req.domain)?, owner, &name)
                .await?;
            json(&wire::DeleteRepositoryResult {
                repository: Some(repository_description(service, &repository)),
            })
        }
        Operation::ListRepositories => {
            let req = wire::ListRepositoriesRequest::from_wire(raw)?;
            let listing = RepositoryListing {
                domain: None,
                administrator: None,
                prefix: req.repository_prefix,
            };
            let page = service
                .list_repositories(caller, listing, req.max_results, req.next_token.as_deref())
                .await?;
            let (repositories, next_token) = repositories_page(service, page);
            json(&wire::ListRepositoriesResult {
                repositories: Some(repositories),
                next_token,
            })
        }
        Operation::ListRepositoriesInDomain => {
            let req = wire::ListRepositoriesInDomainRequest::from_wire(raw)?;
            let owner = account("domainOwner", req.domain_owner.as_ref())?;
            let listing = RepositoryListing {
                domain: Some((domain_name(&req.domain)?, owner)),
                administrator: account("administratorAccount", req.administrator_account.as_ref())?,
                prefix: req.repository_prefix,
            };
            let page = service
                .list_repositories(caller, listing, req.max_results, req.next_token.as_deref())
                .await?;
            let (repositories, next_token) = repositories_page(service, page);
            json(&wire::ListRepositoriesInDomainResult {
                repositories: Some(repositories),
                next_token,
            })
        }
        Operation::AssociateExternalConnection => {
            let req = wire::AssociateExternalConnectionRequest::from_wire(raw)?;
            let owner = account("domainOwner", req.domain_owner.as_ref())?;
            let name = repository_name("repository", &req.repository)?;
            let repository = service
                .associate_external_connection(
                    caller,
                    domain_name(&req.domain)?,
                    owner,
                    &name,
                    &req.external_connection,
                )
                .await?;
            json(&wire::AssociateExternalConnectionResult {
                repository: Some(repository_description(service, &repository)),
            })
        }
        Operation::DisassociateExternalConnection => {
            let req = wire::DisassociateExternalConnectionRequest::from_wire(raw)?;
            let owner = account("domainOwner", req.domain_owner.as_ref())?;
            let name = repository_name("repository", &req.repository)?;
            let repository = service
                .disassociate_external_connection(
                    caller,
                    domain_name(&req.domain)?,
                    owner,
                    &name,
                    &req.external_connection,
                )
                .await?;
            json(&wire::DisassociateExternalConnectionResult {
                repository: Some(repository_description(service, &repository)),
            })
        }
        Operation::GetRepositoryEndpoint => {
            let req = wire::GetRepositoryEndpointRequest::from_wire(raw)?;
            let owner = account("domainOwner", req.domain_owner.as_ref())?;
            let name = repository_name("repository", &req.repository)?;
            let endpoint = service
                .repository_endpoint(
                    caller,
                    domain_name(&req.domain)?,
                    owner,
                    &name,
                    crate::packages::format(req.format),
                )
                .await?;
            json(&wire::GetRepositoryEndpointResult {
                repository_endpoint: Some(endpoint),
            })
        }
        Operation::GetAuthorizationToken => {
            let req = wire::GetAuthorizationTokenRequest::from_wire(raw)?;
            let owner = account("domainOwner", req.domain_owner.as_ref())?;
            let grant = service
                .authorization_token(
                    caller,
                    domain_name(&req.domain)?,
                    owner,
                    req.duration_seconds,
                    now_seconds(),
                )
                .await?;
            #[expect(
                clippy::cast_precision_loss,
                reason = "epoch seconds fit in f64's mantissa"
            )]
            let expiration = grant.expires as f64;
            json(&wire::GetAuthorizationTokenResult {
                authorization_token: Some(grant.token),
                expiration: Some(expiration),
            })
        }
        Operation::TagResource => {
            let req = wire::TagResourceRequest::from_wire(raw)?;
            service
                .tag_resource(&req.resource_arn, tags(Some(req.tags)))
                .await?;
            json(&wire::TagResourceResult::default())
        }
        Operation::UntagResource => {
            let req = wire::UntagResourceRequest::from_wire(raw)?;
            service
                .untag_resource(&req.resource_arn, req.tag_keys)
                .await?;
            json(&wire::UntagResourceResult::default())
        }
        Operation::ListTagsForResource => {
            let req = wire::ListTagsForResourceRequest::from_wire(raw)?;
            let tags = service.list_tags(&req.resource_arn).await?;
            json(&wire::ListTagsForResourceResult {
                tags: Some(
                    tags.into_iter()
                        .map(|t| wire::Tag {
                            key: t.key,
                            value: t.value,
                        })
                        .collect(),
                ),
            })
        }
        other => Err(ApiError::not_implemented(other.name())),
    }
}
