"""secretvault's REST API (Django REST framework). Mount ``secretvault.api.urls``."""
