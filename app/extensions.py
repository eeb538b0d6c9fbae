"""Extension instances only; ``create_app`` binds them."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from app.database import SharedModel

db = SQLAlchemy(model_class=SharedModel)
login_manager = LoginManager()
babel = Babel()
csrf = CSRFProtect()
# Storage from RATELIMIT_STORAGE_URI (memory:// embedded, Redis in production); limits are set per view.
limiter = Limiter(key_func=get_remote_address)
