# spine-auc: slim Python, non-root, gunicorn (sync workers; the work is CPU-bound).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SPINE_AUC_CRITERIA_DIR=/srv/spine-auc/criteria \
    SPINE_AUC_FIXTURES_DIR=/srv/spine-auc/fhir_fixtures \
    SPINE_AUC_DATA_DIR=/var/lib/spine-auc

WORKDIR /srv/spine-auc
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install --no-cache-dir . \
 && useradd --system --uid 10001 --home-dir /srv/spine-auc spineauc \
 && mkdir -p /var/lib/spine-auc && chown spineauc /var/lib/spine-auc
COPY criteria ./criteria
COPY fhir_fixtures ./fhir_fixtures
# Published key sets of known CDS clients (the CDS Hooks sandbox), for the README's issuer recipe.
COPY docs/keys ./docs/keys

USER spineauc
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)" || exit 1
# Binding to 0.0.0.0 requires trusted CDS issuers (SPINE_AUC_CDS_TRUSTED_ISSUERS, a JSON list) or an explicit
# --allow-unauthenticated; the service refuses to start otherwise. The REST API, $appropriateness and the
# consultation reads answer 401 until SPINE_AUC_API_TRUSTED_ISSUERS lists an API client issuer.
ENTRYPOINT ["spine-auc", "serve", "--host", "0.0.0.0", "--port", "8080"]
