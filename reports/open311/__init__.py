"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2), XML and JSON, under
/open311/v2/. A tenant's host serves its own jurisdiction; the public host serves every
tenant, chosen by `jurisdiction_id`. A POST goes through report_submit like any other
report; its service_request_id is the report's tracking id, returned at once (type
`realtime`), so a token is the tracking id too.

Field names, element names, defaults and error codes follow the published
specification; `page`, `page_size` and `extensions=true` (a `notes` trail of public
status changes and public notes) follow its documented common extensions.

- `rendering`: answers in XML or JSON;
- `errors`: Open311Error, the spec's error list, `error_response` (the renderer
  registered for /open311/ in ERROR_RENDERERS) and the catch-all 404 view;
- `arguments`: reading query and form arguments;
- `decorators`: the `open311` view decorator (methods, jurisdiction, throttling, errors);
- `discovery`: discovery, services and service definitions;
- `service_requests`: POST, search, one request, tokens.
"""
