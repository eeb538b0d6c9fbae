from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired


class SignInForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(_l("Saisissez votre e-mail."))])
    password = PasswordField(
        _l("Mot de passe"), validators=[DataRequired(_l("Saisissez votre mot de passe."))]
    )
