-- Screenshot workers seen (issue 12): each worker writes its row when it starts and every
-- few seconds while it runs, so the admin API (`GET /v1/status`) and the plugin's Test
-- connection can tell whether a worker is alive. One row per worker process.
CREATE TABLE IF NOT EXISTS `{prefix}sp_workers` (
  name VARCHAR(191) NOT NULL PRIMARY KEY,
  host VARCHAR(191) NOT NULL,
  pid INT UNSIGNED NOT NULL,
  started_at DATETIME(6) NOT NULL,
  seen_at DATETIME(6) NOT NULL,
  renders INT UNSIGNED NOT NULL DEFAULT 0,
  KEY idx_seen (seen_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
