from ninja import NinjaAPI

api = NinjaAPI(title="Ohm API", version="1")
