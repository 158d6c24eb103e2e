"""The consultation audit store: tables and their upgrades, reads and writes."""
