-- Screenshot proof pipeline (issue 4): one render per (normalised page URL, banner version,
-- viewport, language) within a freshness window, linked from every consent it proves.
CREATE TABLE IF NOT EXISTS `{prefix}sp_renders` (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  render_key CHAR(64) NOT NULL,
  page_url VARCHAR(2048) NOT NULL,
  final_url VARCHAR(2048) NOT NULL,
  viewport VARCHAR(16) NOT NULL,
  width INT UNSIGNED NOT NULL,
  height INT UNSIGNED NOT NULL,
  language VARCHAR(35) NOT NULL,
  banner_version VARCHAR(64) NOT NULL,
  banner_text TEXT NOT NULL,
  banner_text_hash CHAR(64) NOT NULL,
  image_id BIGINT UNSIGNED NOT NULL,
  thumb_id BIGINT UNSIGNED NOT NULL,
  render_ms INT UNSIGNED NOT NULL,
  created_at DATETIME(6) NOT NULL,
  KEY idx_key (render_key, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE `{prefix}sp_screenshot_jobs`
  ADD COLUMN IF NOT EXISTS render_key CHAR(64) NOT NULL DEFAULT '' AFTER page_url,
  ADD COLUMN IF NOT EXISTS viewport VARCHAR(16) NOT NULL DEFAULT 'desktop' AFTER render_key,
  ADD COLUMN IF NOT EXISTS language VARCHAR(35) NOT NULL DEFAULT '' AFTER viewport,
  ADD COLUMN IF NOT EXISTS banner_version VARCHAR(64) NOT NULL DEFAULT '' AFTER language,
  ADD KEY IF NOT EXISTS idx_render_key (render_key, status);

ALTER TABLE `{prefix}sp_consents`
  ADD COLUMN IF NOT EXISTS render_id BIGINT UNSIGNED NULL AFTER screenshot_id,
  ADD COLUMN IF NOT EXISTS banner_mismatch TINYINT(1) NULL AFTER render_id,
  ADD KEY IF NOT EXISTS idx_render (render_id);
