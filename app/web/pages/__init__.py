"""Server-rendered HTML pages of the service."""
