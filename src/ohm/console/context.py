from django.conf import settings


def console(request):
    return {"utility_name": settings.UTILITY_NAME}
