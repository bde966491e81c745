-- Migration number: 0012 	 share links that were revoked before they expired
--
-- A share link is checked by its signature (src/share.rs); a revoked one is also listed
-- here until it would have expired, when the next revocation deletes it. Kept in the
-- shard of the shared trace.
CREATE TABLE share_revocations (
    -- 16 hex characters, from the link.
    share_id   TEXT    PRIMARY KEY,
    -- When the link expires: after that the row has no use.
    expires_ns INTEGER NOT NULL
) WITHOUT ROWID;
