from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional


class ContactForm(FlaskForm):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    title = StringField("Title", validators=[Optional(), Length(max=200)])
    phone = StringField("Phone", validators=[Optional(), Length(max=64)])
