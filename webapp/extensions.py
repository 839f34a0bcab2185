"""Flask extensions, created unbound and bound in the app factory."""

from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

login_manager = LoginManager()
csrf = CSRFProtect()
htmx = Htmx()
