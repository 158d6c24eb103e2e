"""The OpenAPI 3.1 document of the REST API and the FHIR operation, written by hand.

Why no generator library (apispec, flask-smorest, …): the API is four routes whose bodies are FHIR
resources and the §7 result contract; a generator would add a dependency and we would still write
these schemas by hand. Instead ``tests/contract/test_openapi.py`` validates real responses of every
documented endpoint and status against the schemas below (OpenAPI 3.1 schemas are JSON Schema
2020-12) and checks that every ``/api`` and ``/fhir`` route of the app is documented.
"""

from __future__ import annotations

import copy
from typing import Any

from app import __version__
from app.clinical.vocabulary import Category, Indicator, PamaRating, Status

_REF = "#/components/schemas/"
FHIR_JSON = "application/fhir+json"

#: The ACR topics a result may name (criteria/manifest.json; tests/unit/web/test_topics_listed.py keeps them equal).
TOPIC_IDS = (
    "acr-low-back-pain",
    "acr-thoracic-back-pain",
    "acr-myelopathy",
    "acr-suspected-spine-trauma",
    "acr-back-pain-child",
    "acr-suspected-spine-trauma-child",
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_CATEGORY = {"type": "string", "enum": [c.value for c in Category]}

_CODING = {
    "type": "object",
    "required": ["system", "code"],
    "properties": {"system": {"type": "string"}, "code": {"type": "string"}, "display": {"type": "string"}},
}

SCHEMAS: dict[str, Any] = {
    "FhirResource": {
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": {"type": "string"}},
    },
    "OperationOutcome": {
        "type": "object",
        "required": ["resourceType", "issue"],
        "properties": {
            "resourceType": {"const": "OperationOutcome"},
            "issue": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["severity", "code"],
                    "properties": {
                        "severity": {"enum": ["fatal", "error", "warning", "information"]},
                        "code": {"type": "string"},
                        "diagnostics": {"type": "string"},
                        "expression": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
    "AppropriatenessRequest": {
        "description": (
            "A FHIR R4 Bundle (collection, transaction, searchset or untyped) holding one or more "
            "ServiceRequests and the patient's resources (Patient, Condition, MedicationStatement, "
            "MedicationRequest, Medication, Procedure, Device), or a bare ServiceRequest whose subject "
            "(Patient/<id>) is fetched from the configured FHIR server. A Bundle holding only "
            "ServiceRequests is treated like bare orders. A Bundle may also carry QuestionnaireResponses: the "
            "ordering clinician's answers to a result's `questionnaire` (see QuestionnaireResponse)."
        ),
        "type": "object",
        "required": ["resourceType"],
        "properties": {
            "resourceType": {"enum": ["Bundle", "ServiceRequest"]},
            "entry": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "resource": {
                            "anyOf": [_ref("QuestionnaireResponse"), _ref("FhirResource")],
                        }
                    },
                },
            },
        },
    },
    "QuestionnaireResponse": {
        "description": (
            "FHIR R4 QuestionnaireResponse: clinician-attested answers to a result's questionnaire. Each item's "
            "linkId names a missing fact (missing[].fact); its one answer is the option in words "
            "(valueCoding.code as offered, or valueString). Used when status is completed or amended, "
            "basedOn (if given) names the order and subject (if given) is the order's patient; the answer "
            "becomes a fact with the QuestionnaireResponse as evidence ('answered by the ordering clinician')."
        ),
        "type": "object",
        "required": ["resourceType", "status", "item"],
        "properties": {
            "resourceType": {"const": "QuestionnaireResponse"},
            "id": {"type": "string"},
            "questionnaire": {"type": "string"},
            "status": {"enum": ["in-progress", "completed", "amended", "entered-in-error", "stopped"]},
            "subject": {"type": "object", "required": ["reference"]},
            "basedOn": {"type": "array", "items": {"type": "object", "required": ["reference"]}},
            "item": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["linkId", "answer"],
                    "properties": {
                        "linkId": {"type": "string"},
                        "answer": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"valueCoding": _CODING, "valueString": {"type": "string"}},
                            },
                        },
                    },
                },
            },
        },
    },
    "Questionnaire": {
        "description": (
            "FHIR R4 Questionnaire of an insufficient-data result: one choice item per missing fact (linkId = "
            "missing[].fact), each answerOption a valueCoding in words with the outcome it gives (extension "
            "https://spine-auc.org/fhir/StructureDefinition/answer-outcome). Validated with R4B."
        ),
        "type": "object",
        "required": ["resourceType", "url", "status", "item"],
        "properties": {
            "resourceType": {"const": "Questionnaire"},
            "url": {"type": "string"},
            "status": {"const": "active"},
            "item": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["linkId", "text", "type", "answerOption"],
                    "properties": {"type": {"const": "choice"}},
                },
            },
        },
    },
    "OperationRequest": {
        "description": "An AppropriatenessRequest, or a Parameters with one 'request' resource parameter.",
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": {"enum": ["Bundle", "ServiceRequest", "Parameters"]}},
    },
    "ProcedureRef": {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "string"},
            "display": {"type": "string"},
            "codes": {"type": "array", "items": _CODING},
        },
    },
    "Evidence": {"type": "array", "items": {"type": "string"}},
    "Reason": {
        "type": "object",
        "required": ["fact", "text"],
        "properties": {
            "fact": {"type": "string"},
            "text": {"type": "string"},
            "evidence": _ref("Evidence"),
        },
    },
    "Modifier": {
        "type": "object",
        "required": ["id", "indicator", "text"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "effect": {"type": "string"},
            "indicator": {"enum": [i.value for i in Indicator]},
            "text": {"type": "string"},
            "evidence": _ref("Evidence"),
        },
    },
    "MissingFact": {
        "type": "object",
        "required": ["fact", "text", "options"],
        "properties": {
            "fact": {"type": "string"},
            "text": {"type": "string"},
            "question": {"type": "string", "description": "the question to the ordering clinician, in words"},
            "options": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["value", "outcome"],
                    "properties": {"outcome": {"type": "string"}},
                },
            },
        },
    },
    "SafetyEntry": {
        "description": "A safety check's finding (clinical-rules §5): MR safety of implants, pregnancy, region.",
        "type": "object",
        "required": ["check", "status", "indicator", "text", "evidence"],
        "properties": {
            "check": {"enum": ["mr-safety", "pregnancy", "region"]},
            "status": {"type": "string"},
            "indicator": {"enum": [i.value for i in Indicator]},
            "text": {"type": "string"},
            "evidence": {"type": "array", "items": {"type": "string"}},
            "concordant": {
                "type": "object",
                "description": "region mismatch: the concordant study and its rating",
            },
        },
    },
    "Assumption": {
        "type": "object",
        "required": ["fact", "value", "text", "setting"],
        "properties": {
            "fact": {"type": "string"},
            "value": {"type": "boolean"},
            "text": {"type": "string"},
            "setting": {"type": "string"},
        },
    },
    "Alternative": {
        "type": "object",
        "required": ["procedure", "category"],
        "properties": {
            "procedure": _ref("ProcedureRef"),
            "category": _CATEGORY,
            "score": {"type": "number"},
            "rrl": _nullable({"type": "string"}),
        },
    },
    "Result": {
        "description": "One order's result: the contract of clinical-rules.md §7.",
        "type": "object",
        "required": ["consultationId", "serviceRequest", "status", "criteriaVersion"],
        "properties": {
            "consultationId": {"type": "string", "pattern": "^urn:uuid:[0-9a-f-]{36}$"},
            "serviceRequest": _nullable({"type": "string"}),
            "status": {"enum": [s.value for s in Status]},
            "procedure": _nullable(_ref("ProcedureRef")),
            "topic": _nullable(
                {
                    "type": "object",
                    "required": ["id"],
                    "properties": {
                        "id": {"type": "string", "description": "the ACR topic", "examples": list(TOPIC_IDS)},
                        "title": {"type": "string"},
                        "version": {"type": "string"},
                    },
                }
            ),
            "variant": _nullable(
                {
                    "type": "object",
                    "required": ["number"],
                    "properties": {"number": {"type": "integer"}, "text": {"type": "string"}},
                }
            ),
            "matchedVariants": {"type": "array", "items": {"type": "integer"}},
            "category": _nullable(_CATEGORY),
            "score": _nullable({"type": "number", "minimum": 1, "maximum": 9}),
            "scoreBasis": _nullable({"type": "string"}),
            "rrl": _nullable({"type": "string"}),
            "pamaRating": _nullable({"enum": [r.value for r in PamaRating]}),
            "modifiers": {"type": "array", "items": _ref("Modifier")},
            "reasons": {"type": "array", "items": _ref("Reason")},
            "missing": {"type": "array", "items": _ref("MissingFact")},
            "alternatives": {"type": "array", "items": _ref("Alternative")},
            "source": _nullable({"type": "object"}),
            "safety": {"type": "array", "items": _ref("SafetyEntry")},
            "assumptions": {"type": "array", "items": _ref("Assumption")},
            "ratedUnder": {
                "type": "array",
                "description": "a combined thoracic + lumbar study: each topic it was rated under",
                "items": {"type": "object", "required": ["topic", "category"]},
            },
            "dataIssues": {"type": "array"},
            "criteriaVersion": {"type": "string", "minLength": 1},
            "questionnaire": _ref("Questionnaire"),
        },
    },
    "AppropriatenessResponse": {
        "type": "object",
        "required": ["results"],
        "additionalProperties": False,
        "properties": {"results": {"type": "array", "minItems": 1, "items": _ref("Result")}},
    },
    "GuidanceResponse": {
        "description": "FHIR R4 GuidanceResponse (validated with fhir.resources R4B before it is sent).",
        "type": "object",
        "required": [
            "resourceType",
            "identifier",
            "requestIdentifier",
            "moduleUri",
            "status",
            "occurrenceDateTime",
            "outputParameters",
            "contained",
        ],
        "properties": {
            "resourceType": {"const": "GuidanceResponse"},
            "identifier": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["value"],
                    "properties": {"value": {"type": "string"}},
                },
            },
            "requestIdentifier": {"type": "object", "required": ["value"]},
            "moduleUri": {"type": "string", "pattern": "^https://spine-auc\\.org/criteria/"},
            "status": {"enum": ["success", "data-required", "failure"]},
            "subject": {"type": "object", "required": ["reference"]},
            "occurrenceDateTime": {"type": "string"},
            "outputParameters": {
                "type": "object",
                "required": ["reference"],
                "properties": {"reference": {"type": "string", "pattern": "^#"}},
            },
            "dataRequirement": {
                "type": "array",
                "items": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}},
            },
            "reasonReference": {"type": "array", "items": {"type": "object", "required": ["reference"]}},
            "contained": {"type": "array", "minItems": 1, "items": _ref("FhirResource")},
        },
    },
    "GuidanceResponseBundle": {
        "type": "object",
        "required": ["resourceType", "type", "entry"],
        "properties": {
            "resourceType": {"const": "Bundle"},
            "type": {"const": "collection"},
            "entry": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["resource"],
                    "properties": {"fullUrl": {"type": "string"}, "resource": _ref("GuidanceResponse")},
                },
            },
        },
    },
    "Consultation": {
        "description": "A stored consultation: the result as it was returned plus audit fields.",
        "type": "object",
        "required": ["consultationId", "result", "audit"],
        "properties": {
            "consultationId": {"type": "string"},
            "result": _ref("Result"),
            "audit": {
                "type": "object",
                "properties": {
                    "requestId": _nullable({"type": "string"}),
                    "patient": _nullable({"type": "string"}),
                    "order": _nullable({"type": "string"}),
                    "recordedAt": _nullable({"type": "string"}),
                    "latencyMs": _nullable({"type": "number"}),
                },
            },
        },
    },
    "ConsultationList": {
        "type": "object",
        "required": ["consultations"],
        "properties": {
            "consultations": {"type": "array", "items": _ref("Consultation")},
            "next": _nullable({"type": "string"}),
        },
    },
}


def _json_content(schema: str, *media: str) -> dict[str, Any]:
    return {m: {"schema": _ref(schema)} for m in (media or ("application/json",))}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "Invalid input (bad JSON, wrong resourceType, no ServiceRequest, no subject, unknown FHIR base)",
        401: "No acceptable API client token (WWW-Authenticate: Bearer; no reason given)",
        403: "The token lacks the scope this route needs (WWW-Authenticate: Bearer error=insufficient_scope)",
        404: "Not found",
        413: "Body larger than MAX_BODY_BYTES",
        414: "Request URI longer than MAX_URL_BYTES",
        415: "Content-Type is not application/json or application/fhir+json",
        422: "No FHIR server configured, or the order's patient does not exist there, or more orders than "
        "MAX_ORDERS_PER_CALL (issue code too-costly)",
        431: "A header field longer than MAX_HEADER_BYTES",
        500: "Internal error (generic OperationOutcome, no details)",
        502: "The FHIR server failed or is unavailable",
        503: "The consultation could not be recorded",
        504: "The FHIR server timed out",
    }
    return {
        str(s): {
            "description": text[s],
            "content": _json_content("OperationOutcome", "application/fhir+json"),
        }
        for s in statuses
    }


_BODY_JSON = ("application/json", "application/fhir+json")
_REQUEST_ID = {
    "name": "X-Request-ID",
    "in": "header",
    "required": False,
    "description": "Echoed back and stored with the consultation; generated when absent or malformed.",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:\\-]{1,128}$"},
}

PATHS: dict[str, Any] = {
    "/api/v1/appropriateness": {
        "post": {
            "operationId": "evaluateAppropriateness",
            "security": [{"apiClientToken": ["system/spine-auc.appropriateness"]}],
            "summary": "Rate one or more imaging orders against the ACR criteria",
            "parameters": [_REQUEST_ID],
            "requestBody": {
                "required": True,
                "content": _json_content("AppropriatenessRequest", *_BODY_JSON),
            },
            "responses": {
                "200": {
                    "description": "One result per ServiceRequest, in input order",
                    "content": _json_content("AppropriatenessResponse"),
                },
                **_errors(400, 401, 403, 413, 414, 415, 422, 431, 500, 502, 503, 504),
            },
        }
    },
    "/fhir/ServiceRequest/$appropriateness": {
        "post": {
            "operationId": "fhirAppropriateness",
            "security": [{"apiClientToken": ["system/spine-auc.appropriateness"]}],
            "summary": "FHIR operation: rate orders, answer with a Bundle of GuidanceResponse",
            "parameters": [_REQUEST_ID],
            "requestBody": {"required": True, "content": _json_content("OperationRequest", *_BODY_JSON)},
            "responses": {
                "200": {
                    "description": "One GuidanceResponse per ServiceRequest",
                    "content": _json_content("GuidanceResponseBundle", "application/fhir+json"),
                },
                **_errors(400, 401, 403, 413, 414, 415, 422, 431, 500, 502, 503, 504),
            },
        }
    },
    "/fhir/ServiceRequest/{order_id}/$appropriateness": {
        "post": {
            "operationId": "fhirInstanceAppropriateness",
            "security": [{"apiClientToken": ["system/spine-auc.appropriateness"]}],
            "summary": "FHIR operation on a stored order: read it and its patient from the FHIR server",
            "parameters": [
                {"name": "order_id", "in": "path", "required": True, "schema": {"type": "string"}},
                _REQUEST_ID,
            ],
            "requestBody": {
                "required": False,
                "description": "No input; an empty body or an empty Parameters resource.",
                "content": _json_content("FhirResource", *_BODY_JSON),
            },
            "responses": {
                "200": {
                    "description": "One GuidanceResponse",
                    "content": _json_content("GuidanceResponseBundle", "application/fhir+json"),
                },
                **_errors(400, 401, 403, 404, 413, 414, 415, 422, 431, 500, 502, 503, 504),
            },
        }
    },
    "/api/v1/consultations": {
        "get": {
            "operationId": "listConsultations",
            "security": [{"apiClientToken": ["system/spine-auc.consultations.read"]}],
            "summary": "List stored consultations (served by app/web/consultations.py)",
            "parameters": [
                {"name": "patient", "in": "query", "schema": {"type": "string"}},
                {"name": "order", "in": "query", "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "cursor", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {
                    "description": "A page of consultations",
                    "content": _json_content("ConsultationList"),
                },
                **_errors(400, 401, 403),
            },
        }
    },
    "/api/v1/consultations/{consultation_id}": {
        "get": {
            "operationId": "getConsultation",
            "security": [{"apiClientToken": ["system/spine-auc.consultations.read"]}],
            "summary": "A stored consultation by its id (served by app/web/consultations.py)",
            "parameters": [
                {"name": "consultation_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {"description": "The stored consultation", "content": _json_content("Consultation")},
                **_errors(401, 403, 404, 503),
            },
        }
    },
    "/questions/{token}": {
        "get": {
            "operationId": "questionPage",
            "summary": "The question page an insufficient-data CDS card links to (HTML form, no JavaScript)",
            "description": (
                "token: the signed, expiring link token of the card's links[] entry (names one consultation, "
                "never a patient; QUESTIONS_LINK_MINUTES, default 30)."
            ),
            "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {
                "200": {
                    "description": "The form, or the rating if already answered",
                    "content": {"text/html": {}},
                },
                "404": {"description": "Link not valid (forged or unknown)", "content": {"text/html": {}}},
                "410": {"description": "Link expired", "content": {"text/html": {}}},
            },
        },
        "post": {
            "operationId": "answerQuestions",
            "summary": "Answer the questions: re-rates the order at once and shows the rating with its reasons",
            "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["csrf"],
                            "properties": {"csrf": {"type": "string"}},
                            "additionalProperties": {
                                "type": "string",
                                "description": "<linkId>: the index of the chosen option",
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": {"description": "The rating (answers stored)", "content": {"text/html": {}}},
                "400": {
                    "description": "Bad answer (form again with the error) or CSRF",
                    "content": {"text/html": {}},
                },
                "404": {"description": "Link not valid", "content": {"text/html": {}}},
                "410": {"description": "Link expired", "content": {"text/html": {}}},
            },
        },
    },
    "/questions/static/{filename}": {
        "get": {
            "operationId": "questionPageStatic",
            "summary": "The question page's stylesheet (shipped with the package)",
            "parameters": [
                {"name": "filename", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {"200": {"description": "CSS", "content": {"text/css": {}}}},
        }
    },
    "/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": {
                "200": {"description": "OpenAPI 3.1 document", "content": {"application/json": {}}}
            },
        }
    },
}


SECURITY_SCHEMES: dict[str, Any] = {
    "apiClientToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT of an API client issuer (SPINE_AUC_API_TRUSTED_ISSUERS), SMART Backend Services "
        "style; the scope claim holds the scopes listed per operation. Never in the query string.",
    }
}


def build_openapi() -> dict[str, Any]:
    """A fresh copy of the document (callers may not mutate the module's constants)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "spine-auc",
            "version": __version__,
            "summary": "Imaging appropriateness (ACR criteria) for spine imaging orders",
            "description": "Topics: " + ", ".join(TOPIC_IDS) + ".",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "servers": [{"url": "/"}],
        "paths": copy.deepcopy(PATHS),
        "components": {"schemas": copy.deepcopy(SCHEMAS), "securitySchemes": copy.deepcopy(SECURITY_SCHEMES)},
    }
