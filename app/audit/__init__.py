"""Retrospective audit of a FHIR Bulk Data export (Dask): read, partition by patient, evaluate, report."""
