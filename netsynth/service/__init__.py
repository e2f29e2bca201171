"""The job service: an HTTP API that runs `netsynth.api.synthesize` jobs from a durable queue.

- `app`: `create_app(settings)`, the FastAPI application: `routes` (jobs, verify), `pages`
  (results pages, sign-in, docs), `uploads` (what a client sends, checked), `security` (token,
  Origin), `limits` (body sizes), `schemas` (the answers' shapes).
- `store`: the SQLAlchemy database of jobs and models (SQLite or PostgreSQL).
- `runner`: claims waiting jobs for this server's slots and hands them to search processes;
  `worker`: a search process (`python -m netsynth.service.worker`).
- `ui`, `picture`: the HTML results pages and the network-against-program pictures.
- `client`, `cli`: the HTTP client and the `netsynth serve|submit|status|result|cancel` commands.

`import netsynth.service` imports none of these (FastAPI, SQLAlchemy, httpx load on use).
"""
