from django.urls import path

from cylch.governance import views

app_name = "governance"
urlpatterns = [
    path("approvals/", views.queue, name="approvals"),
    path("approvals/<uuid:public_id>/", views.approval, name="approval"),
    path("approvals/<uuid:public_id>/withdraw/", views.withdraw, name="withdraw"),
]
