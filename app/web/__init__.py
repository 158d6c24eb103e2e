"""The HTTP surface other than CDS Hooks: REST API, FHIR operation, consultations, health, OpenAPI."""
