"""The WSGI entry point for production servers: `gunicorn grader.wsgi:app`.

The one module besides the Celery app that builds something at import time.
Each gunicorn worker imports it after forking (no --preload), so each opens
its own broker connection at start instead of on its first upload.
"""

from grader.web import create_app
from grader.web.services import warm_queue

app = create_app()
warm_queue(app)
