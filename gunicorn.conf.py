"""gunicorn settings of the sidecar for `gunicorn -c gunicorn.conf.py` from this folder (and
the image): the same as `-c python:sidecar.gunicorn_conf`, which works from any directory.
The settings and why: sidecar/gunicorn_conf.py."""

from sidecar.gunicorn_conf import *  # noqa: F403
