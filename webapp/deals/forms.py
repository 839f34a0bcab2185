from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from webapp.models import DEAL_STAGES
from webapp.money import COMMON_CURRENCIES


class DealForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    amount = StringField(
        "Amount", validators=[Optional(), Length(max=24)], render_kw={"inputmode": "decimal"}
    )
    currency = SelectField("Currency", choices=[SelectChoice(c, c) for c in COMMON_CURRENCIES], default="USD")
    stage = SelectField("Stage", choices=[SelectChoice(s, s) for s in DEAL_STAGES])
    close_date = DateField("Close date", validators=[Optional()])
    # A search box over the workspace's contacts; picking one fills contact_id.
    contact = StringField("Contact", validators=[Optional(), Length(max=300)])
    contact_id = HiddenField()
