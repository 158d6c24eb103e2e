"""FHIR I/O: the REST client, structure validation, GuidanceResponse, SMART Backend Services, fixtures."""
