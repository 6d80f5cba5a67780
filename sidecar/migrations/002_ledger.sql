-- Tamper-evident ledger (docs/ledger.md): per-record digest of the personal fields (kept
-- after erasure), a per-record salt (erased with them), and the chain position and hash
-- assigned when a seal takes the record into the chain.
ALTER TABLE `{prefix}sp_consents`
  ADD COLUMN IF NOT EXISTS personal_digest CHAR(64) NOT NULL DEFAULT '' AFTER hash,
  ADD COLUMN IF NOT EXISTS salt CHAR(32) NULL AFTER personal_digest,
  ADD COLUMN IF NOT EXISTS chain_pos BIGINT UNSIGNED NULL AFTER salt,
  ADD COLUMN IF NOT EXISTS chain_hash CHAR(64) NULL AFTER chain_pos,
  ADD COLUMN IF NOT EXISTS seal_id BIGINT UNSIGNED NULL AFTER chain_hash,
  ADD UNIQUE KEY IF NOT EXISTS uniq_chain_pos (chain_pos),
  ADD KEY IF NOT EXISTS idx_unsealed (seal_id, seq),
  ADD KEY IF NOT EXISTS idx_ip (ip),
  ADD KEY IF NOT EXISTS idx_country (country, received_at),
  ADD KEY IF NOT EXISTS idx_wp_user (wp_user_id);

CREATE TABLE IF NOT EXISTS `{prefix}sp_seals` (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  first_pos BIGINT UNSIGNED NOT NULL,
  last_pos BIGINT UNSIGNED NOT NULL,
  records INT UNSIGNED NOT NULL,
  prev_head CHAR(64) NOT NULL,
  head CHAR(64) NOT NULL,
  sealed_at DATETIME(6) NOT NULL,
  UNIQUE KEY uniq_last (last_pos)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
