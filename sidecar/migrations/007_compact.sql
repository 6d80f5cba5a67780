-- Compact consent records (issue 11, "Scale"; docs/data-model.md): the same logical values
-- in fewer bytes. UUIDs as BINARY(16), hashes and digests as BINARY(32), the salt as
-- BINARY(16), the keyed IP fingerprint as its first 128 bits, categories and signals as bit
-- sets (sidecar/codec.py), action, method and screenshot status as ENUMs, the country and
-- the stored IP as ASCII; each user agent once, in `sp_user_agents`. Indexes: `idx_ip` is
-- gone (the erasure of rows from before migration 005, the one query on the stored `ip`,
-- finds them among `idx_ip_fp`'s NULLs), as is `uniq_chain_pos`: the old unkeyed chain's
-- columns move to `sp_legacy_chain`, which holds a row only for records sealed before
-- migration 004. `id` (the sidecar's own random UUID), `subject_id` and `ip_fp` are
-- indexed on their first 8 bytes, `country` alone (its filter pages by `seq`);
-- `wp_user_id` by `sp_wp_users`, which has a row only for records of signed-in visitors.
--
-- The table is rebuilt: a new table is filled from the old one with the conversions, the
-- row counts are compared, the two are swapped with one RENAME TABLE, and the old one is
-- dropped. Every step may run again after a crash: the copy runs only while the live
-- table still has the old form (`@sp007_old`), a half-filled new table is dropped first,
-- and the old table is dropped only after the swap. Stop sidecars of the previous version
-- before upgrading: a record they insert during the copy makes the counts differ, and the
-- migration stops (nothing lost; run it again).

-- Migration 006 (screenshot work keyed by render) adds this column; without 006 it is
-- added here, so the copy below finds it either way.
ALTER TABLE `{prefix}sp_consents`
  ADD COLUMN IF NOT EXISTS render_key BINARY(16) NULL AFTER page_url;

-- Each distinct user agent once (codec.ua_id): ids of new ones are keyed hashes with the top
-- bit set; the ones found here get the first 60 bits of the SHA-256 of their bytes.
CREATE TABLE IF NOT EXISTS `{prefix}sp_user_agents` (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  user_agent VARCHAR(512) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The records of signed-in visitors by WordPress user (erasure and the admin filter): a row
-- per such record, instead of an index entry for every consent.
CREATE TABLE IF NOT EXISTS `{prefix}sp_wp_users` (
  wp_user_id BIGINT UNSIGNED NOT NULL,
  consent_seq BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (wp_user_id, consent_seq)
) ENGINE=InnoDB DEFAULT CHARSET=ascii;

CREATE TABLE IF NOT EXISTS `{prefix}sp_legacy_chain` (
  chain_pos BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  consent_seq BIGINT UNSIGNED NOT NULL,
  chain_hash CHAR(64) NOT NULL,
  seal_id BIGINT UNSIGNED NULL,
  UNIQUE KEY uniq_consent (consent_seq)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

SET @sp007_old = (SELECT COUNT(*) FROM information_schema.COLUMNS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{prefix}sp_consents'
  AND COLUMN_NAME = 'chain_pos');

DROP TABLE IF EXISTS `{prefix}sp_consents_007`;

CREATE TABLE `{prefix}sp_consents_007` (
  seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  id BINARY(16) NOT NULL,
  event_id BINARY(16) NOT NULL,
  subject_id BINARY(16) NOT NULL,
  action ENUM('grant', 'update', 'withdraw') NOT NULL,
  method ENUM('accept_all', 'reject_all', 'custom', 'withdraw', 'gpc', 'dnt') NOT NULL,
  categories TINYINT UNSIGNED NOT NULL,
  page_url VARCHAR(2048) NOT NULL,
  render_key BINARY(16) NULL,
  policy_version VARCHAR(64) NOT NULL,
  banner_version VARCHAR(64) NOT NULL,
  language VARCHAR(35) NOT NULL,
  signals TINYINT UNSIGNED NOT NULL,
  ip VARCHAR(45) CHARACTER SET ascii COLLATE ascii_general_ci NULL,
  ip_fp BINARY(16) NULL,
  country CHAR(2) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL DEFAULT '',
  region VARCHAR(128) NOT NULL DEFAULT '',
  city VARCHAR(128) NOT NULL DEFAULT '',
  ua_id BIGINT UNSIGNED NULL,
  wp_user_id BIGINT UNSIGNED NOT NULL DEFAULT 0,
  occurred_at DATETIME(6) NOT NULL,
  received_at DATETIME(6) NOT NULL,
  screenshot_status ENUM('pending', 'done', 'failed', 'skipped', 'erased') NOT NULL
    DEFAULT 'pending',
  screenshot_id BIGINT UNSIGNED NULL,
  render_id BIGINT UNSIGNED NULL,
  banner_mismatch TINYINT(1) NULL,
  screenshot_error VARCHAR(255) NULL,
  hash BINARY(32) NOT NULL,
  personal_digest BINARY(32) NULL,
  salt BINARY(16) NULL,
  erased_at DATETIME(6) NULL,
  KEY idx_id (id(8)),
  UNIQUE KEY uniq_event (event_id),
  KEY idx_subject (subject_id(8)),
  KEY idx_received (received_at),
  KEY idx_country (country),
  KEY idx_render (render_id),
  KEY idx_ip_fp (ip_fp(8)),
  KEY idx_ua (ua_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The copy: only while the live table is the old one.
SET @sp007 = IF(@sp007_old, 'INSERT INTO `{prefix}sp_consents_007` (seq, id, event_id,
  subject_id, action, method, categories, page_url, render_key, policy_version,
  banner_version, language, signals, ip, ip_fp, country, region, city, ua_id,
  wp_user_id, occurred_at, received_at, screenshot_status, screenshot_id, render_id,
  banner_mismatch, screenshot_error, hash, personal_digest, salt, erased_at)
  SELECT seq, UNHEX(REPLACE(id, ''-'', '''')), UNHEX(REPLACE(event_id, ''-'', '''')),
    UNHEX(REPLACE(subject_id, ''-'', '''')), action, method,
    COALESCE(JSON_EXTRACT(categories, ''$.necessary'') = ''true'', 0)
    | COALESCE(JSON_EXTRACT(categories, ''$.preferences'') = ''true'', 0) << 1
    | COALESCE(JSON_EXTRACT(categories, ''$.statistics'') = ''true'', 0) << 2
    | COALESCE(JSON_EXTRACT(categories, ''$.marketing'') = ''true'', 0) << 3,
    page_url, render_key, policy_version, banner_version, language,
    COALESCE(JSON_EXTRACT(signals, ''$.gpc'') = ''true'', 0)
    | COALESCE(JSON_EXTRACT(signals, ''$.dnt'') = ''true'', 0) << 1,
    ip, UNHEX(LEFT(ip_fp, 32)), country, region, city,
    IF(user_agent = '''', NULL, CONV(LEFT(SHA2(user_agent, 256), 15), 16, 10)), wp_user_id,
    occurred_at, received_at, screenshot_status, screenshot_id, render_id,
    banner_mismatch, screenshot_error, UNHEX(hash), UNHEX(NULLIF(personal_digest, '''')),
    UNHEX(salt), erased_at
  FROM `{prefix}sp_consents` ORDER BY seq', 'DO 0');
PREPARE sp007 FROM @sp007;
EXECUTE sp007;
DEALLOCATE PREPARE sp007;

SET @sp007 = IF(@sp007_old, 'INSERT IGNORE INTO `{prefix}sp_user_agents` (id, user_agent)
  SELECT DISTINCT CONV(LEFT(SHA2(user_agent, 256), 15), 16, 10), user_agent
  FROM `{prefix}sp_consents` WHERE user_agent <> ''''', 'DO 0');
PREPARE sp007 FROM @sp007;
EXECUTE sp007;
DEALLOCATE PREPARE sp007;

SET @sp007 = IF(@sp007_old, 'INSERT IGNORE INTO `{prefix}sp_wp_users` (wp_user_id, consent_seq)
  SELECT wp_user_id, seq FROM `{prefix}sp_consents` WHERE wp_user_id > 0', 'DO 0');
PREPARE sp007 FROM @sp007;
EXECUTE sp007;
DEALLOCATE PREPARE sp007;

SET @sp007 = IF(@sp007_old, 'INSERT IGNORE INTO `{prefix}sp_legacy_chain` (chain_pos,
  consent_seq, chain_hash, seal_id) SELECT chain_pos, seq, chain_hash, seal_id
  FROM `{prefix}sp_consents` WHERE chain_pos IS NOT NULL', 'DO 0');
PREPARE sp007 FROM @sp007;
EXECUTE sp007;
DEALLOCATE PREPARE sp007;

-- Every row was copied, and every converted value reads back as what the old row held:
-- categories and signals were complete boolean maps, UUIDs and hashes well-formed. A row
-- that does not fails the migration here, before anything is swapped (the query names the
-- first such row's seq in the table name of its error). Built as text, like the copy, so
-- that it is not even parsed once the live table is the new one.
SET @sp007 = IF(@sp007_old, 'SET @sp007_check = (SELECT CONCAT(''SELECT 1 FROM `sp007_conversion_failed_at_seq_'',
    COALESCE(MIN(o.seq), 0), ''_or_rows_'', (SELECT COUNT(*) FROM `{prefix}sp_consents`), ''_'',
    (SELECT COUNT(*) FROM `{prefix}sp_consents_007`), ''`'')
  FROM `{prefix}sp_consents` o LEFT JOIN `{prefix}sp_consents_007` n ON n.seq = o.seq
  LEFT JOIN `{prefix}sp_user_agents` u ON u.id = n.ua_id
  WHERE n.seq IS NULL
    OR CAST(COALESCE(u.user_agent, '''') AS BINARY) <> CAST(o.user_agent AS BINARY)
    OR LOWER(INSERT(INSERT(INSERT(INSERT(HEX(n.id), 9, 0, ''-''), 14, 0, ''-''), 19, 0, ''-''),
                    24, 0, ''-'')) <> o.id COLLATE utf8mb4_bin
    OR LOWER(INSERT(INSERT(INSERT(INSERT(HEX(n.event_id), 9, 0, ''-''), 14, 0, ''-''), 19, 0,
                    ''-''), 24, 0, ''-'')) <> o.event_id COLLATE utf8mb4_bin
    OR LOWER(INSERT(INSERT(INSERT(INSERT(HEX(n.subject_id), 9, 0, ''-''), 14, 0, ''-''), 19, 0,
                    ''-''), 24, 0, ''-'')) <> o.subject_id COLLATE utf8mb4_bin
    OR LOWER(HEX(n.hash)) <> o.hash COLLATE utf8mb4_bin
    OR COALESCE(LOWER(HEX(n.personal_digest)), '''') <> o.personal_digest COLLATE utf8mb4_bin
    OR NOT (LOWER(HEX(n.salt)) <=> o.salt COLLATE utf8mb4_bin)
    OR NOT (LOWER(HEX(n.ip_fp)) <=> LEFT(o.ip_fp, 32) COLLATE utf8mb4_bin)
    OR NOT (JSON_LENGTH(o.categories) <=> 4) OR NOT (JSON_LENGTH(o.signals) <=> 2)
    OR NOT (JSON_TYPE(JSON_EXTRACT(o.categories, ''$.necessary'')) <=> ''BOOLEAN'')
    OR NOT (JSON_TYPE(JSON_EXTRACT(o.categories, ''$.preferences'')) <=> ''BOOLEAN'')
    OR NOT (JSON_TYPE(JSON_EXTRACT(o.categories, ''$.statistics'')) <=> ''BOOLEAN'')
    OR NOT (JSON_TYPE(JSON_EXTRACT(o.categories, ''$.marketing'')) <=> ''BOOLEAN'')
    OR NOT (JSON_TYPE(JSON_EXTRACT(o.signals, ''$.gpc'')) <=> ''BOOLEAN'')
    OR NOT (JSON_TYPE(JSON_EXTRACT(o.signals, ''$.dnt'')) <=> ''BOOLEAN'')
    OR n.action <> o.action COLLATE utf8mb4_bin OR n.method <> o.method COLLATE utf8mb4_bin
    OR n.country <> o.country COLLATE utf8mb4_bin
    OR n.screenshot_status <> o.screenshot_status COLLATE utf8mb4_bin
  HAVING COUNT(*) > 0 OR (SELECT COUNT(*) FROM `{prefix}sp_consents`)
    <> (SELECT COUNT(*) FROM `{prefix}sp_consents_007`))', 'SET @sp007_check = NULL');
PREPARE sp007 FROM @sp007;
EXECUTE sp007;
DEALLOCATE PREPARE sp007;
SET @sp007 = COALESCE(@sp007_check, 'DO 0');
PREPARE sp007 FROM @sp007;
EXECUTE sp007;
DEALLOCATE PREPARE sp007;

SET @sp007 = IF(@sp007_old, 'RENAME TABLE `{prefix}sp_consents` TO `{prefix}sp_consents_006`,
  `{prefix}sp_consents_007` TO `{prefix}sp_consents`', 'DO 0');
PREPARE sp007 FROM @sp007;
EXECUTE sp007;
DEALLOCATE PREPARE sp007;

DROP TABLE IF EXISTS `{prefix}sp_consents_007`;
DROP TABLE IF EXISTS `{prefix}sp_consents_006`;
