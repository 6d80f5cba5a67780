-- The rule-set version of each consent (issue 14, "Proof of enforcement"; sidecar/ruleset.py):
-- the 32 bytes of the sha256 the plugin signed in as `rules_version`. NULL on every row
-- stored before this migration, and on consents from plugins that send none. Added at the
-- end of the table: an instant change in MariaDB (no copy of the rows). 32 bytes a record
-- and no index, join or new table (one less grant than a lookup table of versions).
ALTER TABLE `{prefix}sp_consents`
  ADD COLUMN IF NOT EXISTS rules_version BINARY(32) NULL;
