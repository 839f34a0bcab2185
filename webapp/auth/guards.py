"""Route guards: who may see what."""

from functools import wraps

from flask import abort
from flask_login import current_user, login_required


def admin_required(view):
    """Signed in and an admin of the workspace; members get 403, strangers the login page."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped
