"""Web glue shared by every blueprint: transaction boundary, error pages, i18n, health checks."""
