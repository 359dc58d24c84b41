"""The baselines: the same key/value rows without secretvault."""

from django.db import models
from encrypted_fields.fields import EncryptedTextField


class PlainSecret(models.Model):
    """Plaintext rows, as a project that keeps settings in its database would."""

    group = models.PositiveIntegerField(db_index=True)
    key = models.CharField(max_length=255)
    value = models.TextField()

    def __str__(self) -> str:
        return self.key


class FernetSecret(models.Model):
    """Values in django-fernet-encrypted-fields' encrypted field."""

    group = models.PositiveIntegerField(db_index=True)
    key = models.CharField(max_length=255)
    value = EncryptedTextField()

    def __str__(self) -> str:
        return self.key
