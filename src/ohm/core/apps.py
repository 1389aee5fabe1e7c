from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _refresh_roles(sender, **kwargs):
    # Permissions of every app exist only once the last app has migrated.
    last_with_models = [config for config in apps.get_app_configs() if config.models_module][-1]
    if sender.name == last_with_models.name:
        from ohm.core.permissions import ensure_roles

        ensure_roles()


class CoreConfig(AppConfig):
    name = "ohm.core"
    label = "core"
    verbose_name = "Ohm foundation"

    def ready(self) -> None:
        from ohm.core import lookups

        lookups.install()
        post_migrate.connect(_refresh_roles, dispatch_uid="ohm.core.refresh_roles")
