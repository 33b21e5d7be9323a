-- Packages, versions, assets and npm dist-tags, SQLite dialect. Keep in step with
-- store-postgres/migrations.
--
-- An asset row is stored once per domain (keyed by SHA-256) however many versions, packages or
-- repositories reference it; `version_assets` are the references. A copy adds references, never
-- asset rows. Asset rows no reference points at are deleted by the transaction that dropped the
-- last reference, so "referenced blob" is "has an asset row".

CREATE TABLE packages (
    id            INTEGER PRIMARY KEY,
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    format        TEXT    NOT NULL,
    -- '' when the package has no namespace.
    namespace     TEXT    NOT NULL DEFAULT '',
    name          TEXT    NOT NULL,
    -- Origin restrictions: 'ALLOW' or 'BLOCK'.
    publish       TEXT    NOT NULL,
    upstream      TEXT    NOT NULL,
    UNIQUE (repository_id, format, namespace, name)
);

CREATE TABLE package_versions (
    id                         INTEGER PRIMARY KEY,
    package_id                 INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    version                    TEXT    NOT NULL,
    status                     TEXT    NOT NULL,
    revision                   TEXT    NOT NULL,
    published_ms               INTEGER NOT NULL,
    origin_type                TEXT    NOT NULL,
    origin_repository          TEXT,
    origin_external_connection TEXT,
    -- VersionMetadata as JSON.
    metadata                   TEXT    NOT NULL,
    UNIQUE (package_id, version)
);

CREATE INDEX package_versions_by_published ON package_versions (package_id, published_ms);

CREATE TABLE assets (
    id        INTEGER PRIMARY KEY,
    domain_id INTEGER NOT NULL REFERENCES domains (id) ON DELETE RESTRICT,
    sha256    TEXT    NOT NULL,
    size      INTEGER NOT NULL,
    md5       TEXT    NOT NULL,
    sha1      TEXT    NOT NULL,
    sha512    TEXT    NOT NULL,
    UNIQUE (domain_id, sha256)
);

-- The garbage sweep asks whether any domain still has a blob.
CREATE INDEX assets_by_sha256 ON assets (sha256);

CREATE TABLE version_assets (
    version_id INTEGER NOT NULL REFERENCES package_versions (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    asset_id   INTEGER NOT NULL REFERENCES assets (id) ON DELETE RESTRICT,
    PRIMARY KEY (version_id, name)
);

-- Whether an asset row is still referenced.
CREATE INDEX version_assets_by_asset ON version_assets (asset_id);

CREATE TABLE dist_tags (
    package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    tag        TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    PRIMARY KEY (package_id, tag)
);
