-- rtcli SQLite schema (version 1). Every table is keyed by project.
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS projects (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL
);

-- API keys are stored only as SHA-256 hashes (keys are long random strings).
CREATE TABLE IF NOT EXISTS api_keys (
  project TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, secret_hash TEXT NOT NULL UNIQUE,
  scopes TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (project, id)
);

CREATE TABLE IF NOT EXISTS databases (
  project TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, enabled INTEGER NOT NULL,
  type TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (project, id)
);

CREATE TABLE IF NOT EXISTS tables (
  project TEXT NOT NULL, db TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
  enabled INTEGER NOT NULL, row_security INTEGER NOT NULL, permissions TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (project, db, id)
);

CREATE TABLE IF NOT EXISTS columns (
  project TEXT NOT NULL, db TEXT NOT NULL, tbl TEXT NOT NULL, key TEXT NOT NULL,
  spec TEXT NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (project, db, tbl, key)
);

CREATE TABLE IF NOT EXISTS rows (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  project TEXT NOT NULL, db TEXT NOT NULL, tbl TEXT NOT NULL, id TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  permissions TEXT NOT NULL,   -- JSON list of permission strings
  read_roles TEXT NOT NULL,    -- JSON list: roles with read on the row (for filtering in SQL)
  data TEXT NOT NULL,          -- JSON object of the user's columns
  UNIQUE (project, db, tbl, id)
);

-- The event log: one row per event, written in the transaction of the change that caused it.
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  project TEXT NOT NULL,
  created REAL NOT NULL,       -- unix time, for retention and 'since <date>'
  timestamp TEXT NOT NULL,
  name TEXT NOT NULL,          -- the most specific event name; the others are derived from it
  channels TEXT NOT NULL,
  roles TEXT NOT NULL,
  payload TEXT NOT NULL,
  user_id TEXT,
  permissions_changed INTEGER NOT NULL DEFAULT 0,
  controls TEXT                -- JSON: role refreshes, revoked sessions, origin (see eventlog.py)
);
CREATE INDEX IF NOT EXISTS events_project_seq ON events (project, seq);
CREATE INDEX IF NOT EXISTS events_created ON events (created);

-- Users, sessions, teams and memberships. Passwords are argon2id hashes; session and
-- membership secrets are SHA-256 hashes of 256-bit random values.
CREATE TABLE IF NOT EXISTS users (
  project TEXT NOT NULL, id TEXT NOT NULL, email TEXT, name TEXT NOT NULL DEFAULT '',
  password_hash TEXT, status INTEGER NOT NULL DEFAULT 1, labels TEXT NOT NULL DEFAULT '[]',
  prefs TEXT NOT NULL DEFAULT '{}', email_verification INTEGER NOT NULL DEFAULT 0,
  registration TEXT NOT NULL, password_update TEXT NOT NULL DEFAULT '', accessed_at TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (project, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS users_email ON users (project, email) WHERE email IS NOT NULL;

-- Tokens a server made for a user (Users API); exchanged once for a session. Secrets hashed.
CREATE TABLE IF NOT EXISTS tokens (
  project TEXT NOT NULL, id TEXT NOT NULL, user_id TEXT NOT NULL, secret_hash TEXT NOT NULL,
  expire TEXT NOT NULL, expire_ts REAL NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (project, id)
);
CREATE INDEX IF NOT EXISTS tokens_user ON tokens (project, user_id);

CREATE TABLE IF NOT EXISTS sessions (
  project TEXT NOT NULL, id TEXT NOT NULL, user_id TEXT NOT NULL, secret_hash TEXT NOT NULL,
  provider TEXT NOT NULL, ip TEXT NOT NULL DEFAULT '', user_agent TEXT NOT NULL DEFAULT '',
  expire TEXT NOT NULL, expire_ts REAL NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (project, id)
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (project, user_id);

CREATE TABLE IF NOT EXISTS teams (
  project TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, prefs TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (project, id)
);

CREATE TABLE IF NOT EXISTS memberships (
  project TEXT NOT NULL, id TEXT NOT NULL, team_id TEXT NOT NULL, user_id TEXT NOT NULL,
  roles TEXT NOT NULL, invited TEXT NOT NULL, joined TEXT NOT NULL DEFAULT '',
  confirm INTEGER NOT NULL, secret_hash TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (project, id), UNIQUE (project, team_id, user_id)
);
CREATE INDEX IF NOT EXISTS memberships_user ON memberships (project, user_id);

-- Storage. File bytes live under <data-dir>/files/ with server-chosen names (`blob`); no
-- user-supplied string ever becomes a path.
CREATE TABLE IF NOT EXISTS buckets (
  project TEXT NOT NULL, id TEXT NOT NULL, spec TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (project, id)
);

CREATE TABLE IF NOT EXISTS files (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  project TEXT NOT NULL, bucket TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
  permissions TEXT NOT NULL, read_roles TEXT NOT NULL, mime_type TEXT NOT NULL,
  size INTEGER NOT NULL, signature TEXT NOT NULL DEFAULT '', chunks_total INTEGER NOT NULL,
  chunks_uploaded INTEGER NOT NULL DEFAULT 0, blob TEXT NOT NULL, complete INTEGER NOT NULL DEFAULT 0,
  expires REAL NOT NULL DEFAULT 0, owner TEXT,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  UNIQUE (project, bucket, id)
);

CREATE TABLE IF NOT EXISTS file_chunks (
  file_seq INTEGER NOT NULL, chunk INTEGER NOT NULL, PRIMARY KEY (file_seq, chunk)
);

-- Functions (local commands) and their executions.
CREATE TABLE IF NOT EXISTS functions (
  project TEXT NOT NULL, id TEXT NOT NULL, spec TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (project, id)
);

CREATE TABLE IF NOT EXISTS executions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  project TEXT NOT NULL, id TEXT NOT NULL, function_id TEXT NOT NULL, model TEXT NOT NULL,
  read_roles TEXT NOT NULL, created_at TEXT NOT NULL,
  UNIQUE (project, id)
);
CREATE INDEX IF NOT EXISTS executions_function ON executions (project, function_id, seq);

-- Presence records (Appwrite's Presences): bound to a realtime connection (source 'realtime',
-- refreshed by its node while the connection lives) or set over REST (source 'rest'). One per user.
CREATE TABLE IF NOT EXISTS presences (
  project TEXT NOT NULL, id TEXT NOT NULL, user_id TEXT NOT NULL, status TEXT NOT NULL,
  source TEXT NOT NULL, metadata TEXT NOT NULL, permissions TEXT NOT NULL, read_roles TEXT NOT NULL,
  expires_at TEXT NOT NULL DEFAULT '', expires_ts REAL NOT NULL DEFAULT 0, connection TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (project, id)
);
CREATE INDEX IF NOT EXISTS presences_expiry ON presences (expires_ts);
-- One per user: the unique index on (project, user_id) is made by store/upgrade.py (AFTER).

-- Topics (rtcli extension): streams clients and servers publish to. A durable topic's messages
-- are events in the log; an ephemeral topic's are never stored. `roles`: every role that holds
-- a permission on the topic (who may see it in a list).
CREATE TABLE IF NOT EXISTS topics (
  project TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, mode TEXT NOT NULL,
  permissions TEXT NOT NULL, read_roles TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (project, id)
);

-- Indexes of TablesDB tables (key, unique, fulltext): the definition here, the database index
-- itself on `rows` (an expression index over the column's JSON value, partial to the table;
-- for fulltext an FTS5 table kept by triggers on SQLite, a GIN tsvector index on PostgreSQL).
CREATE TABLE IF NOT EXISTS indexes (
  project TEXT NOT NULL, db TEXT NOT NULL, tbl TEXT NOT NULL, key TEXT NOT NULL,
  spec TEXT NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (project, db, tbl, key)
);

-- TablesDB transactions: operations staged in order, applied together (one database
-- transaction, their events published together) on commit; nothing of them before.
CREATE TABLE IF NOT EXISTS transactions (
  project TEXT NOT NULL, id TEXT NOT NULL, owner TEXT, status TEXT NOT NULL, operations INTEGER NOT NULL,
  expires_at TEXT NOT NULL, expires_ts REAL NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  staged_bytes INTEGER NOT NULL DEFAULT 0,  -- encoded size of the staged operations, checked against a bound
  PRIMARY KEY (project, id)
);
CREATE TABLE IF NOT EXISTS transaction_ops (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, txn TEXT NOT NULL, op TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transaction_ops_txn ON transaction_ops (project, txn, seq);
