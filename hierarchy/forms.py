from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from hierarchy.services import NodeDetails


class NodeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(_l("Le code est obligatoire.")), Length(max=30)])
    name = StringField(_l("Nom"), validators=[DataRequired(_l("Le nom est obligatoire.")), Length(max=200)])
    region = StringField(_l("Région"), validators=[Optional(), Length(max=80)])
    department = StringField(_l("Département"), validators=[Optional(), Length(max=80)])
    commune = StringField(_l("Commune"), validators=[Optional(), Length(max=80)])
    address = StringField(_l("Adresse"), validators=[Optional(), Length(max=300)])
    phone = StringField(_l("Téléphone"), validators=[Optional(), Length(max=30)])
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=200)])

    def details(self) -> NodeDetails:
        return NodeDetails(**{f: getattr(self, f).data for f in NodeDetails.__dataclass_fields__})


class EditNodeForm(NodeForm):
    code = None  # the code never changes: other systems refer to it


class MoveNodeForm(FlaskForm):
    parent = SelectField(_l("Nouveau parent"), validators=[DataRequired(_l("Choisissez un parent."))])


class CloseNodeForm(FlaskForm):
    reason = TextAreaField(_l("Motif"), validators=[DataRequired(_l("Indiquez le motif."))])
