-- Erasure by IP address matches exactly that address (issue 10, F7), whatever
-- SP_IP_STORAGE keeps in `ip`: a keyed fingerprint of the full address, HMAC-SHA256 with the
-- sidecar-only ledger key (records.ip_fingerprint). NULL in `none` mode, on rows stored
-- before this migration, and on erased records.
ALTER TABLE `{prefix}sp_consents`
  ADD COLUMN IF NOT EXISTS ip_fp CHAR(64) NULL AFTER ip,
  ADD KEY IF NOT EXISTS idx_ip_fp (ip_fp);
