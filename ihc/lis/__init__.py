"""The laboratory's own formats: HL7 v2 (``ihc.lis.hl7``), FHIR R4 (``ihc.lis.fhir``) and an HTTP
service (``ihc.lis.serve``), over the public library API (``ihc.parse``, ``ihc.classify``).

An optional extra (``pip install "ihc[lis]"``): each module imports its library (python-hl7,
fhir.resources, Starlette/uvicorn) only when called, and raises
:class:`ihc.lis.core.ExtraMissingError` naming the install command when it is missing.
Everything sent back to a laboratory system is marked preliminary: decision support, not a
signed result.
"""
