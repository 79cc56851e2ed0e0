from django.urls import path

from cylch.reports import views

app_name = "reports"
urlpatterns = [
    path("report/", views.start, name="start"),
    path("report/new/", views.new, name="new"),
    path("report/<str:reference>/danger/", views.danger, name="danger"),
    path("report/<str:reference>/sent/", views.done, name="done"),
    path("reports/find/", views.find, name="find"),
    path("reports/<str:reference>/challenge/", views.challenge, name="challenge"),
    path("front-door/", views.queue, name="queue"),
    path("front-door/due/", views.due, name="due"),
    path("front-door/<str:reference>/", views.triage, name="triage"),
    path("front-door/<str:reference>/decide/", views.decide, name="decide"),
    path("front-door/<str:reference>/told/", views.told_by_telephone, name="told"),
    path("front-door/<str:reference>/challenges/<uuid:challenge_id>/answer/", views.answer, name="answer"),
]
