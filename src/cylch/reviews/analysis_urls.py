"""Routes for the reviews app's analysis pages (included by reviews/urls.py, same namespace)."""

urlpatterns: list = []
