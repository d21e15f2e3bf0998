"""`pixtract`: the command-line client of the Pixtract REST API (docs/API.md).

Modules by role: `config` (stored credentials), `session` (HTTP with token refresh),
`problems` (API errors as text), `discovery` and `hashing` (local files), `tus` (resumable
uploads), `uploader` (one `pixtract upload` run), `render` (rich output), `main` (the commands).
"""
