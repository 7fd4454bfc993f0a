"""The desk's reports: figures for a period (figures), read from the store (gather)."""
