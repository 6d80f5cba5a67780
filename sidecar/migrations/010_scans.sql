-- Site scans (issue 13, CONTRACT §8): one row per scan, kept for ever (an auditor asks for
-- the report of a given date; the API offers no deletion). The row is the scan's queue
-- entry (status, lease), its request (urls, max_pages, the site rules it was run with), the
-- evidence gathered so far (`observations`: the pages done, as sidecar/scanner.py captures
-- them, written after each page so a scan taken over by another worker goes on where it
-- stopped) and, once done, the report (JSON) and its hash.
CREATE TABLE IF NOT EXISTS `{prefix}sp_scans` (
  seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  id CHAR(36) NOT NULL,
  status VARCHAR(16) NOT NULL DEFAULT 'queued',
  urls MEDIUMTEXT NULL,
  max_pages INT UNSIGNED NOT NULL,
  rules MEDIUMTEXT NOT NULL,
  page_list TEXT NULL,
  pages MEDIUMTEXT NULL,
  observations LONGTEXT NULL,
  progress_done INT UNSIGNED NOT NULL DEFAULT 0,
  progress_total INT UNSIGNED NOT NULL DEFAULT 0,
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  locked_until DATETIME(6) NULL,
  worker VARCHAR(191) NULL,
  started_at DATETIME(6) NULL,
  finished_at DATETIME(6) NULL,
  error VARCHAR(1000) NULL,
  report LONGTEXT NULL,
  report_hash CHAR(64) NULL,
  created_at DATETIME(6) NOT NULL,
  UNIQUE KEY uniq_id (id),
  KEY idx_claim (status, locked_until)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
