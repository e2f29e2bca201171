"""The job service: an HTTP API that runs `netsynth.api.synthesize` jobs from a durable queue.

- `app`: `create_app(settings)`, the FastAPI application and its endpoints.
- `store`: the SQLAlchemy job table and the content-addressed model folder.
- `runner`: runs waiting jobs, a bounded number at once; re-queues interrupted ones at start-up.
- `ui`, `picture`: the HTML results pages and the network-against-program pictures.
- `client`, `cli`: the HTTP client and the `netsynth serve|submit|status|result|cancel` commands.

`import netsynth.service` imports none of these (FastAPI, SQLAlchemy, httpx load on use).
"""
