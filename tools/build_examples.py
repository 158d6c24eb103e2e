"""Write fhir_fixtures/examples/*.json: complete Bundles (patient record + order) for the README and demos.

Each example joins one fixture patient with one fixture order (subject set to that patient), so
``spine-auc evaluate fhir_fixtures/examples/<name>.json`` works as it is.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "fhir_fixtures"
EXAMPLES = {
    "lbp-v3-mri": ("lbp-v3-nsaid", "mri-lumbar-wo-72148"),
    "lbp-v1-acute-mri": ("lbp-acute", "mri-lumbar-wo-72148"),
    "lbp-v7-cancer-xr": ("lbp-metastasis", "xr-lumbar-72100"),
    "lbp-unknown-onset-insufficient": ("lbp-no-onset-nsaid", "mri-lumbar-wo-72148"),
    "m1-mr-unsafe-mri": ("lbp-mr-unsafe", "mri-lumbar-wo-72148"),
    "tbp-region-mismatch-lumbar-mri": ("tbp-radic-acute", "mri-lumbar-wo-72148"),
}


def main() -> None:
    out = ROOT / "examples"
    out.mkdir(exist_ok=True)
    for name, (patient_name, order_name) in EXAMPLES.items():
        bundle = json.loads((ROOT / "patients" / f"{patient_name}.json").read_text(encoding="utf-8"))
        order = json.loads((ROOT / "orders" / f"{order_name}.json").read_text(encoding="utf-8"))
        patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
        order = copy.deepcopy(order)
        order["subject"] = {"reference": f"Patient/{patient['id']}"}
        bundle["id"] = f"example-{name}"
        bundle["entry"].append({"fullUrl": f"http://example.org/fhir/ServiceRequest/{order['id']}", "resource": order})
        (out / f"{name}.json").write_text(json.dumps(bundle, indent=1) + "\n", encoding="utf-8")
        print(out / f"{name}.json")


if __name__ == "__main__":
    main()
