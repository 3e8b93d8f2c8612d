"""The staff web app (``pps-archive serve``): server-rendered pages over the same library as the CLI.

Rules every page keeps (they are enforced here once, not per view):

- **No rule lives in a view.** A handler parses the request, calls one library function with the
  logged-in person's keyring, renders the result. Roles, holds, interlocks and dates are the
  library's business; its typed errors become an error page with the error's ``http_status``.
- **Login is a key slot.** :mod:`pipeline.web.sessions` keeps each session's unlocked keyring in
  this process's memory only; it is dropped on logout, after the idle timeout and at the absolute
  limit (``[web]`` in the configuration). The cookie carries a random session id and nothing else.
- **Every form carries a CSRF token** (:func:`pipeline.web.app.form`); a POST without it is refused.
- **Strict headers** on every response: a CSP of ``'self'``, no framing, no sniffing, no referrer,
  and ``Cache-Control: no-store`` (everything here shows case data or leads to it).
- **No plaintext on disk**: previews are rendered in memory from the encrypted copy and streamed.
- The library is synchronous; handlers call it through :func:`pipeline.web.app.call`, which runs it
  in a worker thread, so one slow page does not stall the others.
"""
