"""The default configuration and policy of pps-archive (TOML files beside this one).

Installed as the package ``pps_archive.config`` (a mapping in pyproject.toml), so that the defaults
travel with the program and a ``config.py`` in the working directory cannot shadow them. In a source
checkout ``pipeline.config`` reads the folder directly.
"""
