"""The ``/api/v1`` JSON API for partners and national systems: OAuth 2 client credentials (authlib), members
and beneficiaries under the same permissions and subtree scoping as the back office, an OpenAPI 3.1 document.

``models`` (clients, tokens), ``services`` (managing clients), ``oauth`` (authlib's server and validator),
``auth`` (the ``@api_requires`` guard), ``errors`` (JSON errors), ``schemas`` (JSON in and out), ``blueprint``
(token endpoint, OpenAPI document), ``members`` (the endpoints), ``openapi``, ``cli`` (``mbolo api``).
"""
