from django.core.asgi import get_asgi_application

from civicpulse.environment import development_refuse_unless_debug, settings_module_choose

# .env first, then the settings it names; never the development settings by accident.
settings_module_choose()
development_refuse_unless_debug("the web server (ASGI)")
application = get_asgi_application()
