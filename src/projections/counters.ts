// Dashboard counters kept beside the tables they count, so that the admin figures cost a
// point read instead of a scan per view (the console is opened while 1,000,000 ops sit in
// vault_ops). Triggers move them with every row change, whoever makes it: a fold, a
// UserDeleted, a CleanupRan. Each counter table belongs to its source table's projection
// and is dropped and rebuilt with it; the seeding INSERT counts the tables once when the
// counter table is new (a fresh or rebuilt projection: empty tables, so zeros).
//
// A counter table is listed after its source tables in its projection's `tables`: replay's
// swap empties tables in reverse order and refills them in order, so the counters are
// gone while the source rows go and come (their triggers then update no row), and are
// copied last, as the rebuild counted them.

/** The vaults projection: vaults, their ops, and pushes per minute of the last two days. */
export const VAULT_COUNTERS_DDL = `
CREATE TABLE IF NOT EXISTS vault_totals (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  vaults INTEGER NOT NULL,
  ops INTEGER NOT NULL,
  -- OperationPushed and PushAnswered events ever appended, erased ones included: the log's
  -- sync traffic, which the audit figure leaves out. Moved by the fold, not by a trigger.
  sync_events INTEGER NOT NULL,
  -- The last event the fold counted: applying an event again does not count it twice.
  counted_seq INTEGER NOT NULL
) STRICT;
INSERT OR IGNORE INTO vault_totals (id, vaults, ops, sync_events, counted_seq)
  SELECT 1, COUNT(*), COALESCE(SUM(op_count), 0), 0, 0 FROM vaults;
CREATE TRIGGER IF NOT EXISTS vaults_counted_insert AFTER INSERT ON vaults BEGIN
  UPDATE vault_totals SET vaults = vaults + 1, ops = ops + NEW.op_count WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS vaults_counted_delete AFTER DELETE ON vaults BEGIN
  UPDATE vault_totals SET vaults = vaults - 1, ops = ops - OLD.op_count WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS vaults_counted_ops AFTER UPDATE OF op_count ON vaults BEGIN
  UPDATE vault_totals SET ops = ops + NEW.op_count - OLD.op_count WHERE id = 1;
END;
-- MAX(last_activity) for the dashboard reads the end of this index.
CREATE INDEX IF NOT EXISTS vaults_last_activity ON vaults (last_activity);
-- Pushed ops by the minute of their event's at ('YYYY-MM-DDTHH:MM'), with the seq range
-- of the minute: operations_24h sums whole minutes and counts only the boundary minute's
-- events. Minutes older than two days are dropped by the fold.
CREATE TABLE IF NOT EXISTS ops_by_minute (
  minute TEXT PRIMARY KEY,
  ops INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
`;

export const VAULT_COUNTER_TABLES = ['vault_totals', 'ops_by_minute'] as const;

/**
 * The blobs projection: stored contents (count, bytes), references, and contents with at
 * least one reference (the rest are the unreferenced ones). blob_refs_sha answers "does
 * any other reference name this content" for the triggers and for isBlobKnown.
 */
export const BLOB_COUNTERS_DDL = `
CREATE INDEX IF NOT EXISTS blob_refs_sha ON blob_refs (sha256);
CREATE TABLE IF NOT EXISTS blob_totals (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  blobs INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  refs INTEGER NOT NULL,
  referenced INTEGER NOT NULL
) STRICT;
INSERT OR IGNORE INTO blob_totals (id, blobs, bytes, refs, referenced)
  SELECT 1, (SELECT COUNT(*) FROM blobs), (SELECT COALESCE(SUM(size), 0) FROM blobs),
    (SELECT COUNT(*) FROM blob_refs),
    (SELECT COUNT(*) FROM blobs b WHERE EXISTS (SELECT 1 FROM blob_refs r WHERE r.sha256 = b.sha256));
CREATE TRIGGER IF NOT EXISTS blobs_counted_insert AFTER INSERT ON blobs BEGIN
  UPDATE blob_totals SET blobs = blobs + 1, bytes = bytes + NEW.size,
    referenced = referenced + EXISTS (SELECT 1 FROM blob_refs WHERE sha256 = NEW.sha256)
  WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS blobs_counted_delete AFTER DELETE ON blobs BEGIN
  UPDATE blob_totals SET blobs = blobs - 1, bytes = bytes - OLD.size,
    referenced = referenced - EXISTS (SELECT 1 FROM blob_refs WHERE sha256 = OLD.sha256)
  WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS blob_refs_counted_insert AFTER INSERT ON blob_refs BEGIN
  UPDATE blob_totals SET refs = refs + 1,
    referenced = referenced + (EXISTS (SELECT 1 FROM blobs WHERE sha256 = NEW.sha256)
      AND NOT EXISTS (SELECT 1 FROM blob_refs WHERE sha256 = NEW.sha256
        AND NOT (user_id = NEW.user_id AND vault_id = NEW.vault_id)))
  WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS blob_refs_counted_delete AFTER DELETE ON blob_refs BEGIN
  UPDATE blob_totals SET refs = refs - 1,
    referenced = referenced - (EXISTS (SELECT 1 FROM blobs WHERE sha256 = OLD.sha256)
      AND NOT EXISTS (SELECT 1 FROM blob_refs WHERE sha256 = OLD.sha256))
  WHERE id = 1;
END;
`;

export const BLOB_COUNTER_TABLES = ['blob_totals'] as const;

/**
 * Users by status: an index-only count (10,000 users: one pass over a two-column index)
 * rather than a counter, since a user's status moves on several events.
 */
export const USER_STATUS_INDEX_DDL =
  'CREATE INDEX IF NOT EXISTS users_status ON users (blocked, confirmed);';

/** The expired-row figures and the cleanup's own counts read a range of these. */
export const SESSION_EXPIRY_INDEX_DDL =
  'CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires_at);';
export const EMAIL_TOKEN_EXPIRY_INDEX_DDL =
  'CREATE INDEX IF NOT EXISTS email_tokens_expires ON email_tokens (expires_at);';
