from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecretVaultConfig(AppConfig):
    name = "secretvault"
    verbose_name = _("Secret vault")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from secretvault import checks  # noqa: F401  (registers the system checks)
        from secretvault.redaction import install_log_filters

        install_log_filters()
