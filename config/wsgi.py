import os

from django.core.wsgi import get_wsgi_application

from config.tracing import tracing_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# before Django loads its middleware: the tracing middleware goes first
tracing_init(service_name="exchange-web")
application = get_wsgi_application()
