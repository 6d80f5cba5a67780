-- The rule-set version of each consent (issue 14, "Proof of enforcement"; sidecar/ruleset.py):
-- the 32 bytes of the sha256 the plugin signed in as `rules_version`. NULL on every row
-- stored before this migration, and on consents from plugins that send none. Added at the
-- end of the table: an instant change in MariaDB (no copy of the rows). 32 bytes a record
-- and no index, join or new table (one less grant than a lookup table of versions).
ALTER TABLE `{prefix}sp_consents`
  ADD COLUMN IF NOT EXISTS rules_version BINARY(32) NULL;

-- Each finished scan's rule-set version (its report's `ruleset_version`), so the consent
-- log can find the scans that tested a record's rules (`GET /v1/scans?ruleset_version=`).
-- Reports made before rule-set versions have none and stay NULL.
ALTER TABLE `{prefix}sp_scans`
  ADD COLUMN IF NOT EXISTS ruleset_version CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL;
ALTER TABLE `{prefix}sp_scans`
  ADD INDEX IF NOT EXISTS idx_ruleset (ruleset_version, seq);
UPDATE `{prefix}sp_scans` SET ruleset_version = JSON_VALUE(report, '$.ruleset_version')
  WHERE report IS NOT NULL AND ruleset_version IS NULL
  AND JSON_VALUE(report, '$.ruleset_version') IS NOT NULL;
