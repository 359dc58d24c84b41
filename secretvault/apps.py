from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecretVaultConfig(AppConfig):
    name = "secretvault"
    verbose_name = _("Secret vault")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks, and the receivers counting failed password logins.
        from secretvault import checks, logins  # noqa: F401
        from secretvault.redaction import install_log_filters

        install_log_filters()
