-- Reliquary metadata store, PostgreSQL dialect. Keep in step with store-sqlite/migrations.
-- Ids are integer surrogate keys so later tables can reference repositories with ON DELETE CASCADE.
-- Names use the "C" collation so listings order byte-wise, exactly as SQLite's BINARY does.

CREATE TABLE domains (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner          TEXT COLLATE "C" NOT NULL,
    name           TEXT COLLATE "C" NOT NULL,
    encryption_key TEXT   NOT NULL,
    created_ms     BIGINT NOT NULL,
    UNIQUE (owner, name)
);

CREATE TABLE repositories (
    id                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain_id             BIGINT NOT NULL REFERENCES domains (id) ON DELETE RESTRICT,
    name                  TEXT COLLATE "C" NOT NULL,
    administrator_account TEXT COLLATE "C" NOT NULL,
    description           TEXT,
    created_ms            BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

-- Cross-domain listings are ordered by name; the administrator filter is common.
CREATE INDEX repositories_by_name ON repositories (name);
CREATE INDEX repositories_by_administrator ON repositories (administrator_account, name);

CREATE TABLE repository_upstreams (
    repository_id BIGINT  NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    upstream_id   BIGINT  NOT NULL REFERENCES repositories (id) ON DELETE RESTRICT,
    PRIMARY KEY (repository_id, position)
);

CREATE INDEX repository_upstreams_by_upstream ON repository_upstreams (upstream_id);

CREATE TABLE repository_external_connections (
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name          TEXT   NOT NULL,
    UNIQUE (repository_id)
);

CREATE TABLE domain_tags (
    domain_id BIGINT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    key       TEXT COLLATE "C" NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (domain_id, key)
);

CREATE TABLE repository_tags (
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    key           TEXT COLLATE "C" NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (repository_id, key)
);

CREATE TABLE signing_keys (
    purpose TEXT PRIMARY KEY,
    key     BYTEA NOT NULL
);
