"""System checks: refuse to run without a usable encryption key, or with the
private storage inside a public directory."""

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, register


@register()
def kyc_encryption_key_check(app_configs, **kwargs):
    from kyc.crypto import check_configuration

    problem = check_configuration()
    if problem is None:
        return []
    return [
        Error(
            problem,
            hint="Set KYC_ENCRYPTION_KEY in the environment (a Fernet key).",
            id="kyc.E001",
        )
    ]


@register()
def kyc_private_storage_check(app_configs, **kwargs):
    location = settings.STORAGES.get("kyc", {}).get("OPTIONS", {}).get("location")
    backend = settings.STORAGES.get("kyc", {}).get("BACKEND", "")
    if not backend:
        return [Error("STORAGES has no 'kyc' entry.", id="kyc.E002")]
    if not backend.endswith("FileSystemStorage") or not location:
        return []
    private = Path(location).resolve()
    public_roots = [settings.STATIC_ROOT, getattr(settings, "MEDIA_ROOT", "")]
    for entry in getattr(settings, "STATICFILES_DIRS", []):
        # An entry is a path or a (prefix, path) pair.
        public_roots.append(entry[1] if isinstance(entry, tuple | list) else entry)
    for root in public_roots:
        if root and private.is_relative_to(Path(root).resolve()):
            return [
                Error(
                    f"KYC documents ({private}) would be inside the public {root}.",
                    id="kyc.E003",
                )
            ]
    return []
