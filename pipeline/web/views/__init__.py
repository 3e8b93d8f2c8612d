"""The pages of the web app, one module per area; each exposes ``routes`` and ``nav`` (see
:mod:`pipeline.web.app`)."""
