"""The default configuration and policy of pps-archive (TOML files beside this one).

Installed as the package ``config`` so that the defaults travel with the program.
"""
