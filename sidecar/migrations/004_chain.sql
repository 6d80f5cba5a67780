-- Keyed, insert-only sealing (docs/ledger.md). The sealer no longer updates consent rows:
-- it appends each record to the chain table with its keyed link (HMAC-SHA256 under the
-- sidecar-only ledger key), one multi-row INSERT per seal. `chain_pos`, `chain_hash` and
-- `seal_id` on the consent rows keep the old unkeyed chain of records sealed before this
-- migration; the first keyed seal verifies that chain and re-seals those records, in the
-- same positions, into this table.
CREATE TABLE IF NOT EXISTS `{prefix}sp_chain` (
  pos BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  consent_seq BIGINT UNSIGNED NOT NULL,
  mac BINARY(32) NOT NULL,
  UNIQUE KEY uniq_consent (consent_seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Seal rows: version 1 = the old unkeyed seals (kept, still checked), 2 = keyed seals.
ALTER TABLE `{prefix}sp_seals`
  ADD COLUMN IF NOT EXISTS version TINYINT UNSIGNED NOT NULL DEFAULT 1 AFTER id,
  ADD COLUMN IF NOT EXISTS key_id CHAR(16) NULL AFTER head,
  ADD COLUMN IF NOT EXISTS max_seq BIGINT UNSIGNED NULL AFTER key_id,
  ADD COLUMN IF NOT EXISTS scan_from BIGINT UNSIGNED NULL AFTER max_seq,
  ADD COLUMN IF NOT EXISTS legacy_head CHAR(64) NULL AFTER scan_from,
  DROP INDEX IF EXISTS uniq_last,
  ADD UNIQUE KEY IF NOT EXISTS uniq_version_last (version, last_pos);

-- Only the old sealer searched for unsealed records by `seal_id`.
ALTER TABLE `{prefix}sp_consents` DROP INDEX IF EXISTS idx_unsealed;
