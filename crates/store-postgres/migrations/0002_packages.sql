-- Packages, versions, assets and npm dist-tags, PostgreSQL dialect. Keep in step with
-- store-sqlite/migrations. Text columns used for ordering or prefix filters use the "C"
-- collation, so listings order byte-wise exactly as SQLite's BINARY does.
--
-- An asset row is stored once per domain (keyed by SHA-256) however many versions, packages or
-- repositories reference it; `version_assets` are the references. A copy adds references, never
-- asset rows. Asset rows no reference points at are deleted by the transaction that dropped the
-- last reference, so "referenced blob" is "has an asset row".

CREATE TABLE packages (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    format        TEXT COLLATE "C" NOT NULL,
    -- '' when the package has no namespace.
    namespace     TEXT COLLATE "C" NOT NULL DEFAULT '',
    name          TEXT COLLATE "C" NOT NULL,
    -- Origin restrictions: 'ALLOW' or 'BLOCK'.
    publish       TEXT NOT NULL,
    upstream      TEXT NOT NULL,
    UNIQUE (repository_id, format, namespace, name)
);

CREATE TABLE package_versions (
    id                         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    package_id                 BIGINT NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    version                    TEXT COLLATE "C" NOT NULL,
    status                     TEXT   NOT NULL,
    revision                   TEXT   NOT NULL,
    published_ms               BIGINT NOT NULL,
    origin_type                TEXT   NOT NULL,
    origin_repository          TEXT,
    origin_external_connection TEXT,
    -- VersionMetadata as JSON text (kept verbatim, not jsonb).
    metadata                   TEXT   NOT NULL,
    UNIQUE (package_id, version)
);

CREATE INDEX package_versions_by_published ON package_versions (package_id, published_ms);

CREATE TABLE assets (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES domains (id) ON DELETE RESTRICT,
    sha256    TEXT COLLATE "C" NOT NULL,
    size      BIGINT NOT NULL,
    md5       TEXT   NOT NULL,
    sha1      TEXT   NOT NULL,
    sha512    TEXT   NOT NULL,
    UNIQUE (domain_id, sha256)
);

-- The garbage sweep asks whether any domain still has a blob.
CREATE INDEX assets_by_sha256 ON assets (sha256);

CREATE TABLE version_assets (
    version_id BIGINT NOT NULL REFERENCES package_versions (id) ON DELETE CASCADE,
    name       TEXT COLLATE "C" NOT NULL,
    asset_id   BIGINT NOT NULL REFERENCES assets (id) ON DELETE RESTRICT,
    PRIMARY KEY (version_id, name)
);

-- Whether an asset row is still referenced.
CREATE INDEX version_assets_by_asset ON version_assets (asset_id);

CREATE TABLE dist_tags (
    package_id BIGINT NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    tag        TEXT COLLATE "C" NOT NULL,
    version    TEXT NOT NULL,
    PRIMARY KEY (package_id, tag)
);
