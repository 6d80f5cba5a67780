<?php
/**
 * Evaluate the PHP code in $SP_EVAL with WordPress loaded; used by tests and scripts/stack.py.
 * The code's output is this script's output.
 */
require getcwd() . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
eval( (string) getenv( 'SP_EVAL' ) );
