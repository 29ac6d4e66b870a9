/**
 * The log message of a failed periodic backup: the Monitoring stack's metric filter matches it
 * exactly (lib/constructs/monitoring.ts), so it lives here, apart from the backup code.
 */
export const BACKUP_FAILED_MESSAGE = 'database backup failed';
