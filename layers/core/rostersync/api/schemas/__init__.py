"""The API's request and response bodies, as pydantic models, one module per feature (base.py:
what they share). A model the API reads ends in Request, one it answers (and every part of
one) in Response; JSON is camelCase, Python snake_case. The names are the OpenAPI document's
schema names, so a generated client's types are these."""
