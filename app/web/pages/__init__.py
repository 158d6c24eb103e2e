"""Server-rendered pages (HTML; no JavaScript)."""
