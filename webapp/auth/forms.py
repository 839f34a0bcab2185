from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()], render_kw={"autocomplete": "username"})
    password = PasswordField(
        "Password", validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )
    new_password = PasswordField(
        "New password", validators=[DataRequired()], render_kw={"autocomplete": "new-password"}
    )
    confirm_password = PasswordField(
        "New password again", validators=[DataRequired()], render_kw={"autocomplete": "new-password"}
    )
