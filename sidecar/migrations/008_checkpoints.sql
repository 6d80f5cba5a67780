-- Keyed verification checkpoints (docs/ledger.md, "Checkpoints"): "chain positions 1…pos
-- verified, the link at pos is head", written only after a verification found no problem,
-- and MACed (HMAC-SHA256 under the ledger key, `mac`) over every other column but `id`, so
-- that a row written without the key is recognised and ignored. `GET /v1/integrity` and the
-- screenshot worker verify from the newest valid one; `recheck_*` is the rolling re-check
-- of older positions. The sidecar keeps the newest incremental rows and every full one.
CREATE TABLE IF NOT EXISTS `{prefix}sp_checkpoints` (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  kind VARCHAR(16) NOT NULL,
  pos BIGINT UNSIGNED NOT NULL,
  head CHAR(64) NOT NULL,
  records BIGINT UNSIGNED NOT NULL,
  key_ids VARCHAR(255) NOT NULL,
  recheck_pos BIGINT UNSIGNED NOT NULL,
  recheck_at DATETIME(6) NULL,
  recheck_cycle_at DATETIME(6) NULL,
  recheck_done_at DATETIME(6) NULL,
  started_at DATETIME(6) NOT NULL,
  finished_at DATETIME(6) NOT NULL,
  key_id CHAR(16) NOT NULL,
  mac BINARY(32) NOT NULL,
  KEY idx_pos (pos)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
