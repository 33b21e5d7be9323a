//! The package and package-version operations of the control plane.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse as _, Response};
use futures::TryStreamExt as _;
use reliquary_core::{BatchOutcome, Caller, CopyRequest, PackageRef, Service, VersionSelection};
use reliquary_store::{Package, PackageFilter, PackageVersion, VersionFilter, VersionOrder};
use reliquary_types::{
    Allow, Asset, OriginRestrictions, OriginType, PackageFormat, PackageKey, VersionStatus,
};
use reliquary_wire as wire;
use reliquary_wire::{Operation, RawRequest};

use crate::ApiError;
use crate::convert::{account, domain_name, json, repository_name};

pub(crate) fn format(value: wire::PackageFormat) -> PackageFormat {
    match value {
        wire::PackageFormat::Npm => PackageFormat::Npm,
        wire::PackageFormat::Pypi => PackageFormat::Pypi,
        wire::PackageFormat::Maven => PackageFormat::Maven,
        wire::PackageFormat::Nuget => PackageFormat::Nuget,
        wire::PackageFormat::Generic => PackageFormat::Generic,
        wire::PackageFormat::Ruby => PackageFormat::Ruby,
        wire::PackageFormat::Swift => PackageFormat::Swift,
        wire::PackageFormat::Cargo => PackageFormat::Cargo,
    }
}

fn wire_format(value: PackageFormat) -> wire::PackageFormat {
    match value {
        PackageFormat::Npm => wire::PackageFormat::Npm,
        PackageFormat::Pypi => wire::PackageFormat::Pypi,
        PackageFormat::Maven => wire::PackageFormat::Maven,
        PackageFormat::Nuget => wire::PackageFormat::Nuget,
        PackageFormat::Generic => wire::PackageFormat::Generic,
        PackageFormat::Ruby => wire::PackageFormat::Ruby,
        PackageFormat::Swift => wire::PackageFormat::Swift,
        PackageFormat::Cargo => wire::PackageFormat::Cargo,
    }
}

fn status(value: wire::PackageVersionStatus) -> Result<VersionStatus, ApiError> {
    VersionStatus::parse(value.as_str()).ok_or_else(|| {
        ApiError::validation(
            "FIELD_VALIDATION_FAILED",
            format!("Status {} is not allowed here", value.as_str()),
        )
    })
}

fn wire_status(value: VersionStatus) -> wire::PackageVersionStatus {
    match value {
        VersionStatus::Published => wire::PackageVersionStatus::Published,
        VersionStatus::Unfinished => wire::PackageVersionStatus::Unfinished,
        VersionStatus::Unlisted => wire::PackageVersionStatus::Unlisted,
        VersionStatus::Archived => wire::PackageVersionStatus::Archived,
        VersionStatus::Disposed => wire::PackageVersionStatus::Disposed,
    }
}

fn allow(value: &str) -> Result<Allow, ApiError> {
    Allow::parse(value).ok_or_else(|| {
        ApiError::validation(
            "FIELD_VALIDATION_FAILED",
            format!("Invalid restriction {value}"),
        )
    })
}

/// A request that names one package (domain, owner, repository, format, namespace, name).
trait NamesPackage {
    /// The package the request names, moving its namespace and name out of the request; the
    /// core checks the namespace rule per format.
    fn package_ref(&mut self) -> Result<PackageRef, ApiError>;
}

macro_rules! names_package {
    ($($request:ident),+ $(,)?) => {$(
        impl NamesPackage for wire::$request {
            fn package_ref(&mut self) -> Result<PackageRef, ApiError> {
                Ok(PackageRef {
                    domain: domain_name(&self.domain)?,
                    domain_owner: account("domainOwner", self.domain_owner.as_ref())?,
                    repository: repository_name("repository", &self.repository)?,
                    package: PackageKey {
                        format: format(self.format),
                        namespace: self.namespace.take(),
                        name: std::mem::take(&mut self.package),
                    },
                })
            }
        }
    )+};
}

names_package!(
    UpdatePackageVersionsStatusRequest,
    DisposePackageVersionsRequest,
    DeletePackageVersionsRequest,
    DescribePackageRequest,
    DeletePackageRequest,
    ListPackageVersionsRequest,
    DescribePackageVersionRequest,
    ListPackageVersionAssetsRequest,
    GetPackageVersionAssetRequest,
    GetPackageVersionReadmeRequest,
    ListPackageVersionDependenciesRequest,
    PublishPackageVersionRequest,
    PutPackageOriginConfigurationRequest,
);

fn origin_configuration(origin: OriginRestrictions) -> wire::PackageOriginConfiguration {
    wire::PackageOriginConfiguration {
        restrictions: Some(wire::PackageOriginRestrictions {
            publish: wire::AllowPublish::parse(origin.publish.as_str())
                .unwrap_or(wire::AllowPublish::Allow),
            upstream: wire::AllowUpstream::parse(origin.upstream.as_str())
                .unwrap_or(wire::AllowUpstream::Block),
        }),
    }
}

fn package_summary(package: &Package) -> wire::PackageSummary {
    wire::PackageSummary {
        format: Some(wire_format(package.key.format)),
        namespace: package.key.namespace.clone(),
        package: Some(package.key.name.clone()),
        origin_configuration: Some(origin_configuration(package.origin)),
    }
}

fn version_origin(version: &PackageVersion) -> wire::PackageVersionOrigin {
    let origin = &version.origin;
    wire::PackageVersionOrigin {
        domain_entry_point: Some(wire::DomainEntryPoint {
            repository_name: origin.repository.clone(),
            external_connection_name: origin.external_connection.clone(),
        }),
        origin_type: wire::PackageVersionOriginType::parse(origin.origin_type.as_str()),
    }
}

fn asset_summary(asset: &Asset) -> wire::AssetSummary {
    let hashes = BTreeMap::from([
        (wire::HashAlgorithm::Md5, asset.hashes.md5.clone()),
        (wire::HashAlgorithm::Sha1, asset.hashes.sha1.clone()),
        (wire::HashAlgorithm::Sha256, asset.hashes.sha256.clone()),
        (wire::HashAlgorithm::Sha512, asset.hashes.sha512.clone()),
    ]);
    wire::AssetSummary {
        name: asset.name.clone(),
        size: Some(i64::try_from(asset.size).unwrap_or(i64::MAX)),
        hashes: Some(hashes),
    }
}

fn version_description(version: &PackageVersion) -> wire::PackageVersionDescription {
    let metadata = &version.metadata;
    let licenses: Vec<wire::LicenseInfo> = metadata
        .licenses
        .iter()
        .map(|l| wire::LicenseInfo {
            name: l.name.clone(),
            url: l.url.clone(),
        })
        .collect();
    wire::PackageVersionDescription {
        format: Some(wire_format(version.package.format)),
        namespace: version.package.namespace.clone(),
        package_name: Some(version.package.name.clone()),
        display_name: Some(
            metadata
                .display_name
                .clone()
                .unwrap_or_else(|| version.package.name.clone()),
        ),
        version: Some(version.version.clone()),
        summary: metadata.summary.clone(),
        home_page: metadata.home_page.clone(),
        source_code_repository: metadata.source_code_repository.clone(),
        published_time: Some(version.published.epoch_seconds()),
        licenses: (!licenses.is_empty()).then_some(licenses),
        revision: Some(version.revision.clone()),
        status: Some(wire_status(version.status)),
        origin: Some(version_origin(version)),
    }
}

fn selection(
    versions: Vec<String>,
    revisions: Option<BTreeMap<String, String>>,
) -> VersionSelection {
    VersionSelection {
        versions,
        revisions: revisions.unwrap_or_default(),
    }
}

/// The shared result shape of the four batch operations.
#[derive(serde::Serialize)]
struct BatchResult {
    #[serde(rename = "successfulVersions")]
    successful: BTreeMap<String, wire::SuccessfulPackageVersionInfo>,
    #[serde(rename = "failedVersions")]
    failed: BTreeMap<String, wire::PackageVersionError>,
}

fn batch_result(outcome: BatchOutcome) -> Result<Response, ApiError> {
    let successful = outcome
        .successful
        .into_iter()
        .map(|(version, (revision, status))| {
            let status = status.map_or(wire::PackageVersionStatus::Deleted, wire_status);
            let info = wire::SuccessfulPackageVersionInfo {
                revision: Some(revision),
                status: Some(status),
            };
            (version, info)
        })
        .collect();
    let failed = outcome
        .failed
        .into_iter()
        .map(|(version, (code, message))| {
            let error = wire::PackageVersionError {
                error_code: wire::PackageVersionErrorCode::parse(code.as_str()),
                error_message: Some(message),
            };
            (version, error)
        })
        .collect();
    json(&BatchResult { successful, failed })
}

/// PublishPackageVersion: the body is the asset and streams into the blob store.
pub(crate) async fn publish(
    service: &Service,
    caller: &Caller,
    raw: &RawRequest<'_>,
    body: Body,
) -> Result<Response, ApiError> {
    let mut req = wire::PublishPackageVersionRequest::from_wire(raw)?;
    let package = req.package_ref()?;
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let (version, asset) = service
        .publish_generic(
            caller,
            &package,
            &req.package_version,
            &req.asset_name,
            &req.asset_sha256,
            req.unfinished.unwrap_or(false),
            stream,
        )
        .await?;
    json(&wire::PublishPackageVersionResult {
        format: Some(wire_format(version.package.format)),
        namespace: version.package.namespace.clone(),
        package: Some(version.package.name.clone()),
        version: Some(version.version.clone()),
        version_revision: Some(version.revision.clone()),
        status: Some(wire_status(version.status)),
        asset: Some(asset_summary(&asset)),
    })
}

/// The package operations other than PublishPackageVersion; `None` for other operations.
pub(crate) async fn dispatch(
    service: &Service,
    caller: &Caller,
    operation: Operation,
    raw: &RawRequest<'_>,
) -> Option<Result<Response, ApiError>> {
    let result = match operation {
        Operation::DescribePackage => describe_package(service, caller, raw).await,
        Operation::ListPackages => list_packages(service, caller, raw).await,
        Operation::PutPackageOriginConfiguration => put_origin(service, caller, raw).await,
        Operation::DeletePackage => delete_package(service, caller, raw).await,
        Operation::ListPackageVersions => list_versions(service, caller, raw).await,
        Operation::DescribePackageVersion => describe_version(service, caller, raw).await,
        Operation::ListPackageVersionAssets => list_assets(service, caller, raw).await,
        Operation::GetPackageVersionAsset => get_asset(service, caller, raw).await,
        Operation::GetPackageVersionReadme => readme(service, caller, raw).await,
        Operation::ListPackageVersionDependencies => dependencies(service, caller, raw).await,
        Operation::UpdatePackageVersionsStatus => update_status(service, caller, raw).await,
        Operation::DisposePackageVersions => dispose(service, caller, raw).await,
        Operation::DeletePackageVersions => delete_versions(service, caller, raw).await,
        Operation::CopyPackageVersions => copy(service, caller, raw).await,
        _ => return None,
    };
    Some(result)
}

async fn update_status(
    service: &Service,
    caller: &Caller,
    raw: &RawRequest<'_>,
) -> Result<Response, ApiError> {
    let mut r = wire::UpdatePackageVersionsStatusRequest::from_wire(raw)?;
    let package = r.package_ref()?;
    let expected = r.expected_status.map(status).transpose()?;
    let target = status(r.target_status).map_err(|_| {
        ApiError::validation(
            "FIELD_VALIDATION_FAILED",
            "targetStatus Deleted is not allowed; use DeletePackageVersions",
        )
    })?;
    let selection = selection(r.versions, r.version_revisions);
    batch_result(
        service
            .update_versions_status(caller, &package, &selection, expected, target)
            .await?,
    )
}

async fn dispose(
    service: &Service,
    caller: &Caller,
    raw: &RawRequest<'_>,
) -> Result<Response, ApiError> {
    let mut r = wire::DisposePackageVersionsRequest::from_wire(raw)?;
    let package = r.package_ref()?;
    let expected = r.expected_status.map(status).transpose()?;
    let selection = selection(r.versions, r.version_revisions);
    batch_result(
        service
            .dispose_versions(caller, &package, &selection, expected)
            .await?,
    )
}

async fn delete_versions(
    service: &Service,
    caller: &Caller,
    raw: &RawRequest<'_>,
) -> Result<Response, ApiError> {
    let mut r = wire::DeletePackageVersionsRequest::from_wire(raw)?;
    let package = r.package_ref()?;
    let expected = r.expected_status.map(status).transpose()?;
    let selection = selection(r.versions, None);
    batch_result(
        service
            .delete_versions(caller, &package, &selection, expected)
            .await?,
    )
}

async fn describe_package(
    service: &Service,
    caller: &Caller,
    raw: &RawRequest<'_>,
) -> Result<Response, ApiError> {
    let mut r = wire::DescribePackageRequest::from_wire(raw)?;
    let package = r.package_ref()?;
    let found = service.describe_package(caller, &package).await?;
    json(&wire::DescribePackageResult {
        package: wire::PackageDescription {
            format: Some(wire_format(found.key.format)),
            namespace: found.key.namespace.clone(),
            name: Some(found.key.name.clone()),
            origin_configuration: Some(origin_configuration(found.origin)),
        },
    })
}

async fn list_packages(
    service: &Service,
    caller: &Caller,
    raw: &RawRequest<'_>,
) -> Result<Response, ApiError> {
    let r = wire::ListPackagesRequest::from_wire(raw)?;
    let filter = PackageFilter {
        format: r.format.map(format),
        namespace_prefix: r.namespace,
        name_prefix: r.package_prefix,
        publish: r.publish.map(|p| allow(p.as_str())).transpose()?,
        upstream: r.upstream.map(|u| allow(u.as_str())).transpose()?,
    };
    let page = service
        .list_packages(
            caller,
            domain_name(&r.domain)?,
            account("domainOwner", r.domain_owner.as_ref())?,
            &repository_name("repository", &r.repository)?,
            filter,
            r.max_results,
            r.next_token.as_deref(),
        )
        .await?;
    json(&wire::ListPackagesResult {
        packages: Some(page.items.iter().map(package_summary).collect()),
        next_token: page.next,
    })
}

async fn put_origin(
    service: &Service,
    caller: &Caller,
    raw: &RawRequest<'_>,
) -> Result<Response, ApiError> {
    let mut r = wire::PutPackageOriginConfigurationRequest::from_wire(raw)?;
    let origin = OriginRestrictions {
        publish: allow(r.restrictions.publish.as_str())?,
        upstream: allow(r.restrictions.upstream.as_str())?,
    };
    let package = r.package_ref()?;
    let stored = service
        .put_origin_configuration(caller, &package, origin)
        .await?;
    json(&wire::PutPackageOriginConfigurationResult {
        origin_configuration: Some(origin_configuration(stored.origin)),
    })
}

async fn delete_package(
    service: &Service,
    caller: &Caller,
    raw: &RawRequest<'_>,
) -> Result<Response, ApiError> {
    let mut r = wire::DeletePackageRequest::from_wire(raw)?;
    let package = r.package_ref()?;
    let deleted = service.delete_package(caller, &package).await?;
    json(&wire::DeletePackageResult {
        deleted_package: Some(package_summary(&deleted)),
    })
}

async fn list_versions(
    service: &Service,
    caller: &Caller,
    raw: &RawRequest<'_>,
) -> Result<Response, ApiError> {
    let mut r = wire::ListPackageVersionsRequest::from_wire(raw)?;
    let package = r.package_ref()?;
    let filter = VersionFilter {
        status: match r.status {
            // No version is ever stored as Deleted.
            Some(wire::PackageVersionStatus::Deleted) => {
                return json(&wire::ListPackageVersionsResult {
                    format: Some(wire_format(package.package.format)),
                    namespace: package.package.namespace.clone(),
                    package: Some(package.package.name.clone()),
                    versions: Some(Vec::new()),
                    ..wire::ListPackageVersionsResult::default()
                });
            }
            other => other.map(status).transpose()?,
        },
        origin_type: r.origin_type.and_then(|o| OriginType::parse(o.as_str())),
    };
    let order = if r.sort_by.is_some() {
        VersionOrder::PublishedTimeDescending
    } else {
        VersionOrder::Version
    };
    let listing = service
        .list_versions(
            caller,
            &package,
            filter,
            order,
            r.max_results,
            r.next_token.as_deref(),
        )
        .await?;
    let versions = listing
        .page
        .items
        .iter()
        .map(|v| wire::PackageVersionSummary {
            version: v.version.clone(),
            revision: Some(v.revision.clone()),
            status: wire_status(v.status),
            origin: Some(version_origin(v)),
        })
        .collect();
    json(&wire::ListPackageVersionsResult {
        default_display_version: listing.default_display_version,
        format: Some(wire_format(package.package.format)),
        namespace: package.package.namespace.clone(),
        package: Some(package.package.name.clone()),
        versions: Some(versions),
        next_token: listing.page.next,
    })
}

async fn describe_version(
    service: &Service,
    caller: &Caller,
    raw: &RawRequest<'_>,
) -> Result<Response, ApiError> {
    let mut r = wire::DescribePackageVersionRequest::from_wire(raw)?;
    let package = r.package_ref()?;
    let found = service
        .describe_version(caller, &package, &r.package_version)
        .await?;
    json(&wire::DescribePackageVersionResult {
        package_version: version_description(&found.version),
    })
}

async fn list_assets(
    service: &Service,
    caller: &Caller,
    raw: &RawRequest<'_>,
) -> Result<Response, ApiError> {
    let mut r = wire::ListPackageVersionAssetsRequest::from_wire(raw)?;
    let package = r.package_ref()?;
    let (version, page) = service
        .list_assets(
            caller,
            &package,
            &r.package_version,
            r.max_results,
            r.next_token.as_deref(),
        )
        .await?;
    json(&wire::ListPackageVersionAssetsResult {
        format: Some(wire_format(version.package.format)),
        namespace: version.package.namespace.clone(),
        package: Some(version.package.name.clone()),
        version: Some(version.version.clone()),
        version_revision: Some(version.revision.clone()),
        assets: Some(page.items.iter().map(asset_summary).collect()),
        next_token: page.next,
    })
}

async fn get_asset(
    service: &Service,
    caller: &Caller,
    raw: &RawRequest<'_>,
) -> Result<Response, ApiError> {
    let mut r = wire::GetPackageVersionAssetRequest::from_wire(raw)?;
    let package = r.package_ref()?;
    let download = service
        .get_asset(
            caller,
            &package,
            &r.package_version,
            &r.asset,
            r.package_version_revision.as_deref(),
        )
        .await?;
    let result = wire::GetPackageVersionAssetResult {
        asset_name: Some(download.asset.name.clone()),
        package_version: Some(download.version.version.clone()),
        package_version_revision: Some(download.version.revision.clone()),
    };
    let length = download.body.content_length();
    let mut response = Body::from_stream(download.body.into_stream()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    for (name, value) in result.headers() {
        // Asset names may hold any printable Unicode; header values carry them percent-encoded
        // only when they are not visible ASCII.
        let value = HeaderValue::from_str(&value).or_else(|_| {
            HeaderValue::from_str(
                &percent_encoding::utf8_percent_encode(&value, percent_encoding::NON_ALPHANUMERIC)
                    .to_string(),
            )
        });
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), value) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}

async fn readme(
    service: &Service,
    caller: &Caller,
    raw: &RawRequest<'_>,
) -> Result<Response, ApiError> {
    let mut r = wire::GetPackageVersionReadmeRequest::from_wire(raw)?;
    let package = r.package_ref()?;
    let found = service
        .describe_version(caller, &package, &r.package_version)
        .await?;
    let version = found.version;
    json(&wire::GetPackageVersionReadmeResult {
        format: Some(wire_format(version.package.format)),
        namespace: version.package.namespace.clone(),
        package: Some(version.package.name.clone()),
        version: Some(version.version.clone()),
        version_revision: Some(version.revision.clone()),
        readme: version.metadata.readme.clone(),
    })
}

async fn dependencies(
    service: &Service,
    caller: &Caller,
    raw: &RawRequest<'_>,
) -> Result<Response, ApiError> {
    let mut r = wire::ListPackageVersionDependenciesRequest::from_wire(raw)?;
    let package = r.package_ref()?;
    let found = service
        .describe_version(caller, &package, &r.package_version)
        .await?;
    let version = found.version;
    let dependencies = version
        .metadata
        .dependencies
        .iter()
        .map(|d| wire::PackageDependency {
            namespace: d.namespace.clone(),
            package: Some(d.package.clone()),
            dependency_type: d.dependency_type.clone(),
            version_requirement: d.version_requirement.clone(),
        })
        .collect();
    json(&wire::ListPackageVersionDependenciesResult {
        format: Some(wire_format(version.package.format)),
        namespace: version.package.namespace.clone(),
        package: Some(version.package.name.clone()),
        version: Some(version.version.clone()),
        version_revision: Some(version.revision.clone()),
        dependencies: Some(dependencies),
        next_token: None,
    })
}

async fn copy(
    service: &Service,
    caller: &Caller,
    raw: &RawRequest<'_>,
) -> Result<Response, ApiError> {
    let r = wire::CopyPackageVersionsRequest::from_wire(raw)?;
    let request = CopyRequest {
        domain: domain_name(&r.domain)?,
        domain_owner: account("domainOwner", r.domain_owner.as_ref())?,
        source: repository_name("sourceRepository", &r.source_repository)?,
        destination: repository_name("destinationRepository", &r.destination_repository)?,
        package: PackageKey {
            format: format(r.format),
            namespace: r.namespace,
            name: r.package,
        },
        versions: r.versions,
        version_revisions: r.version_revisions,
        allow_overwrite: r.allow_overwrite.unwrap_or(false),
        include_from_upstream: r.include_from_upstream.unwrap_or(false),
    };
    batch_result(service.copy_versions(caller, request).await?)
}
