-- Consent records, screenshot jobs and stored images. {prefix} is SP_TABLE_PREFIX.
CREATE TABLE IF NOT EXISTS `{prefix}sp_consents` (
  seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  id CHAR(36) NOT NULL,
  event_id CHAR(36) NOT NULL,
  subject_id CHAR(36) NOT NULL,
  action VARCHAR(16) NOT NULL,
  method VARCHAR(16) NOT NULL,
  categories VARCHAR(255) NOT NULL,
  page_url VARCHAR(2048) NOT NULL,
  policy_version VARCHAR(64) NOT NULL,
  banner_version VARCHAR(64) NOT NULL,
  language VARCHAR(35) NOT NULL,
  signals VARCHAR(255) NOT NULL,
  ip VARCHAR(45) NULL,
  country CHAR(2) NOT NULL DEFAULT '',
  region VARCHAR(128) NOT NULL DEFAULT '',
  city VARCHAR(128) NOT NULL DEFAULT '',
  user_agent VARCHAR(512) NOT NULL DEFAULT '',
  wp_user_id BIGINT UNSIGNED NOT NULL DEFAULT 0,
  occurred_at DATETIME(6) NOT NULL,
  received_at DATETIME(6) NOT NULL,
  screenshot_status VARCHAR(16) NOT NULL DEFAULT 'pending',
  screenshot_id BIGINT UNSIGNED NULL,
  screenshot_error VARCHAR(255) NULL,
  hash CHAR(64) NOT NULL,
  erased_at DATETIME(6) NULL,
  UNIQUE KEY uniq_id (id),
  UNIQUE KEY uniq_event (event_id),
  KEY idx_subject (subject_id),
  KEY idx_received (received_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `{prefix}sp_screenshot_jobs` (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  consent_seq BIGINT UNSIGNED NOT NULL,
  page_url VARCHAR(2048) NOT NULL,
  status VARCHAR(16) NOT NULL DEFAULT 'queued',
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  available_at DATETIME(6) NOT NULL,
  locked_until DATETIME(6) NULL,
  last_error VARCHAR(255) NULL,
  created_at DATETIME(6) NOT NULL,
  KEY idx_claim (status, available_at),
  KEY idx_consent (consent_seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `{prefix}sp_screenshots` (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  sha256 CHAR(64) NOT NULL,
  mime VARCHAR(32) NOT NULL,
  width INT UNSIGNED NOT NULL,
  height INT UNSIGNED NOT NULL,
  image MEDIUMBLOB NOT NULL,
  page_url VARCHAR(2048) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  UNIQUE KEY uniq_sha (sha256)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
