-- rtcli PostgreSQL schema (version 1), the same tables as the SQLite one. JSON columns are jsonb.
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS projects (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL
);

-- API keys are stored only as SHA-256 hashes (keys are long random strings).
CREATE TABLE IF NOT EXISTS api_keys (
  project TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, secret_hash TEXT NOT NULL UNIQUE,
  scopes JSONB NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (project, id)
);

CREATE TABLE IF NOT EXISTS databases (
  project TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, enabled INTEGER NOT NULL,
  type TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (project, id)
);

CREATE TABLE IF NOT EXISTS tables (
  project TEXT NOT NULL, db TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
  enabled INTEGER NOT NULL, row_security INTEGER NOT NULL, permissions JSONB NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (project, db, id)
);

CREATE TABLE IF NOT EXISTS columns (
  project TEXT NOT NULL, db TEXT NOT NULL, tbl TEXT NOT NULL, key TEXT NOT NULL,
  spec JSONB NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (project, db, tbl, key)
);

CREATE TABLE IF NOT EXISTS rows (
  seq BIGSERIAL PRIMARY KEY,
  project TEXT NOT NULL, db TEXT NOT NULL, tbl TEXT NOT NULL, id TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  permissions JSONB NOT NULL,   -- JSON list of permission strings
  read_roles JSONB NOT NULL,    -- JSON list: roles with read on the row (for filtering in SQL)
  data JSONB NOT NULL,          -- JSON object of the user's columns
  UNIQUE (project, db, tbl, id)
);

-- The event log: one row per event, written in the transaction of the change that caused it.
CREATE TABLE IF NOT EXISTS events (
  seq BIGSERIAL PRIMARY KEY,
  project TEXT NOT NULL,
  created DOUBLE PRECISION NOT NULL,       -- unix time, for retention and 'since <date>'
  timestamp TEXT NOT NULL,
  name TEXT NOT NULL,          -- the most specific event name; the others are derived from it
  channels JSONB NOT NULL,
  roles JSONB NOT NULL,
  payload JSONB NOT NULL,
  user_id TEXT,
  permissions_changed INTEGER NOT NULL DEFAULT 0,
  controls JSONB                -- JSON: role refreshes, revoked sessions, origin (see eventlog.py)
);
CREATE INDEX IF NOT EXISTS events_project_seq ON events (project, seq);
CREATE INDEX IF NOT EXISTS events_created ON events (created);

-- Users, sessions, teams and memberships. Passwords are argon2id hashes; session and
-- membership secrets are SHA-256 hashes of 256-bit random values.
CREATE TABLE IF NOT EXISTS users (
  project TEXT NOT NULL, id TEXT NOT NULL, email TEXT, name TEXT NOT NULL DEFAULT '',
  password_hash TEXT, status INTEGER NOT NULL DEFAULT 1, labels JSONB NOT NULL DEFAULT '[]',
  prefs JSONB NOT NULL DEFAULT '{}', email_verification INTEGER NOT NULL DEFAULT 0,
  registration TEXT NOT NULL, password_update TEXT NOT NULL DEFAULT '', accessed_at TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (project, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS users_email ON users (project, email) WHERE email IS NOT NULL;

CREATE TABLE IF NOT EXISTS sessions (
  project TEXT NOT NULL, id TEXT NOT NULL, user_id TEXT NOT NULL, secret_hash TEXT NOT NULL,
  provider TEXT NOT NULL, ip TEXT NOT NULL DEFAULT '', user_agent TEXT NOT NULL DEFAULT '',
  expire TEXT NOT NULL, expire_ts DOUBLE PRECISION NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (project, id)
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (project, user_id);

CREATE TABLE IF NOT EXISTS teams (
  project TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, prefs JSONB NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (project, id)
);

CREATE TABLE IF NOT EXISTS memberships (
  project TEXT NOT NULL, id TEXT NOT NULL, team_id TEXT NOT NULL, user_id TEXT NOT NULL,
  roles JSONB NOT NULL, invited TEXT NOT NULL, joined TEXT NOT NULL DEFAULT '',
  confirm INTEGER NOT NULL, secret_hash TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (project, id), UNIQUE (project, team_id, user_id)
);
CREATE INDEX IF NOT EXISTS memberships_user ON memberships (project, user_id);

-- Storage. File bytes live under <data-dir>/files/ with server-chosen names (`blob`); no
-- user-supplied string ever becomes a path.
CREATE TABLE IF NOT EXISTS buckets (
  project TEXT NOT NULL, id TEXT NOT NULL, spec JSONB NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (project, id)
);

CREATE TABLE IF NOT EXISTS files (
  seq BIGSERIAL PRIMARY KEY,
  project TEXT NOT NULL, bucket TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
  permissions JSONB NOT NULL, read_roles JSONB NOT NULL, mime_type TEXT NOT NULL,
  size INTEGER NOT NULL, signature TEXT NOT NULL DEFAULT '', chunks_total INTEGER NOT NULL,
  chunks_uploaded INTEGER NOT NULL DEFAULT 0, blob TEXT NOT NULL, complete INTEGER NOT NULL DEFAULT 0,
  expires DOUBLE PRECISION NOT NULL DEFAULT 0, owner TEXT,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  UNIQUE (project, bucket, id)
);

CREATE TABLE IF NOT EXISTS file_chunks (
  file_seq BIGINT NOT NULL, chunk INTEGER NOT NULL, PRIMARY KEY (file_seq, chunk)
);

-- Functions (local commands) and their executions.
CREATE TABLE IF NOT EXISTS functions (
  project TEXT NOT NULL, id TEXT NOT NULL, spec JSONB NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (project, id)
);

CREATE TABLE IF NOT EXISTS executions (
  seq BIGSERIAL PRIMARY KEY,
  project TEXT NOT NULL, id TEXT NOT NULL, function_id TEXT NOT NULL, model JSONB NOT NULL,
  read_roles JSONB NOT NULL, created_at TEXT NOT NULL,
  UNIQUE (project, id)
);
CREATE INDEX IF NOT EXISTS executions_function ON executions (project, function_id, seq);

-- Presence records (see the SQLite schema).
CREATE TABLE IF NOT EXISTS presences (
  project TEXT NOT NULL, id TEXT NOT NULL, user_id TEXT NOT NULL, status TEXT NOT NULL,
  source TEXT NOT NULL, metadata JSONB NOT NULL, permissions JSONB NOT NULL, read_roles JSONB NOT NULL,
  expires_at TEXT NOT NULL DEFAULT '', expires_ts DOUBLE PRECISION NOT NULL DEFAULT 0,
  connection TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (project, id)
);
CREATE INDEX IF NOT EXISTS presences_expiry ON presences (expires_ts);
