from django.urls import path  # noqa: F401  (pages are added here as governance features land)

app_name = "governance"
urlpatterns: list = []
