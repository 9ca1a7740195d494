from django.core.wsgi import get_wsgi_application

from civicpulse.environment import development_refuse_unless_debug, settings_module_choose

# .env first, then the settings it names; never the development settings by accident.
settings_module_choose()
development_refuse_unless_debug("the web server (WSGI)")
application = get_wsgi_application()
