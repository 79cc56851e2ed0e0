"""Routes for the reviews app's coding pages (included by reviews/urls.py, same namespace)."""

urlpatterns: list = []
