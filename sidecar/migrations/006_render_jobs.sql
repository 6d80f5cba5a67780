-- Screenshot work keyed by render, not by consent (docs/data-model.md). Ingest only inserts
-- the consent, with `render_key`: the first 16 bytes of the key of the render that proves
-- it (renders.render_key), NULL when no render is due. The worker never updates a consent
-- row: when a seal takes records into the chain, the render job of each render key among
-- them covers their chain positions — the open job of that key, or the done one whose
-- render is still fresh, is extended (`last_pos`), else a job is added. A job is the
-- set-wise link: a consent's proof is the render of the job of its key whose range holds
-- its chain position, found when it is read. About one job row per render, not per consent.
ALTER TABLE `{prefix}sp_consents`
  ADD COLUMN IF NOT EXISTS render_key BINARY(16) NULL AFTER page_url;

CREATE TABLE IF NOT EXISTS `{prefix}sp_render_jobs` (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  key16 BINARY(16) NOT NULL,
  first_pos BIGINT UNSIGNED NOT NULL,
  last_pos BIGINT UNSIGNED NOT NULL,
  render_key CHAR(64) NOT NULL,
  page_url VARCHAR(2048) NOT NULL,
  viewport VARCHAR(16) NOT NULL,
  language VARCHAR(35) NOT NULL,
  banner_version VARCHAR(64) NOT NULL,
  consents INT UNSIGNED NOT NULL,
  status VARCHAR(16) NOT NULL DEFAULT 'queued',
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  available_at DATETIME(6) NOT NULL,
  locked_until DATETIME(6) NULL,
  last_error VARCHAR(255) NULL,
  render_id BIGINT UNSIGNED NULL,
  created_at DATETIME(6) NOT NULL,
  finished_at DATETIME(6) NULL,
  UNIQUE KEY uniq_key_pos (key16, first_pos),
  KEY idx_claim (status, available_at),
  KEY idx_render_key (render_key, status),
  KEY idx_render (render_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The old queue (one job per consent) is converted: each consent still waiting for its
-- screenshot gets its render key, and one render job per key covers those already sealed
-- (the others are covered when they are sealed). Then the old queue goes.
UPDATE `{prefix}sp_consents` c JOIN `{prefix}sp_screenshot_jobs` j ON j.consent_seq = c.seq
  SET c.render_key = UNHEX(LEFT(j.render_key, 32))
  WHERE j.status IN ('queued', 'running') AND j.render_key <> '' AND c.erased_at IS NULL
  AND c.screenshot_status = 'pending';

INSERT IGNORE INTO `{prefix}sp_render_jobs` (key16, first_pos, last_pos, render_key, page_url,
  viewport, language, banner_version, consents, status, available_at, created_at)
  SELECT UNHEX(LEFT(j.render_key, 32)), MIN(ch.pos), MAX(ch.pos), j.render_key,
    MIN(j.page_url), MIN(j.viewport), MIN(j.language), MIN(j.banner_version), COUNT(*),
    'queued', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)
  FROM `{prefix}sp_screenshot_jobs` j
  JOIN `{prefix}sp_consents` c ON c.seq = j.consent_seq
  JOIN `{prefix}sp_chain` ch ON ch.consent_seq = c.seq
  WHERE j.status IN ('queued', 'running') AND j.render_key <> '' AND c.render_key IS NOT NULL
  GROUP BY j.render_key;

DROP TABLE IF EXISTS `{prefix}sp_screenshot_jobs`;
