"""Extension instances only; ``create_app`` binds them."""

from flask_babel import Babel
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from app.database import SharedModel

db = SQLAlchemy(model_class=SharedModel)
login_manager = LoginManager()
babel = Babel()
csrf = CSRFProtect()
