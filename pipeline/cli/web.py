"""``pps-archive serve``: the staff web app."""

from __future__ import annotations

import click

from pipeline.cli._common import AppContext, pass_app


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: web.host, 127.0.0.1: this machine only; "
                                           "anything else belongs behind a TLS proxy).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="TCP port (default: web.port, 8470).")
@pass_app
def serve(app: AppContext, host: str | None, port: int | None) -> None:
    """Run the staff web app. Each person logs in with their own staff account; the unlocked key is
    kept only in this process's memory for their session. Stop it with Ctrl-C (or its service)."""
    import uvicorn

    from pipeline.web.app import create_app

    ws = app.workspace()
    web = ws.config.section("web")
    host, port = host or web["host"], port or web["port"]
    click.echo(f"pps-archive: serving the staff web app on http://{host}:{port}/ (Ctrl-C to stop)", err=True)
    # no access log: request lines name case references; errors still go to the log
    # proxy headers are the app's own business (pipeline.web.app: only from the proxy on 127.0.0.1), so
    # uvicorn does not rewrite the client or the scheme before the app sees them
    uvicorn.run(create_app(ws), host=host, port=port, log_level="warning", access_log=False, server_header=False,
                proxy_headers=False)
