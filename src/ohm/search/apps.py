from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "ohm.search"
    label = "search"

    def ready(self) -> None:
        from ohm.core.audit import domain_event
        from ohm.search import indexing

        domain_event.connect(indexing.on_domain_event, dispatch_uid="ohm.search.reindex")
