"""The WSGI entry point for production servers: `gunicorn grader.wsgi:app`.

The one module besides the Celery app that builds something at import time.
"""

from grader.web import create_app

app = create_app()
