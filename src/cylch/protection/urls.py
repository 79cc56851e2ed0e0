from django.urls import path

from cylch.protection import document_views, views

app_name = "protection"
urlpatterns = [
    path("people/<uuid:public_id>/protection/", views.child_page, name="child"),
    path("people/<uuid:public_id>/protection/start/", views.start, name="start"),
    path("people/<uuid:public_id>/protection/transfer-in/", views.transfer_in, name="transfer-in"),
    path("protection/due/", views.due_page, name="due"),
    path("protection/reports/<str:reference>/start/", views.start_from_report, name="start-from-report"),
    path("protection/episodes/<uuid:episode_id>/strategy/", views.strategy_page, name="strategy"),
    path("protection/episodes/<uuid:episode_id>/enquiry/", views.enquiry_page, name="enquiry"),
    path("protection/episodes/<uuid:episode_id>/assessment/", views.assessment_page, name="assessment"),
    path("protection/episodes/<uuid:episode_id>/visits/new/", views.visit_new, name="visit-new"),
    path("protection/episodes/<uuid:episode_id>/end/", views.end_registration, name="end-registration"),
    path("protection/meetings/<uuid:meeting_id>/", views.meeting_page, name="meeting"),
    path("protection/meetings/<uuid:meeting_id>/record/", views.meeting_record, name="meeting-record"),
    path("protection/meetings/<uuid:meeting_id>/circulate/", views.meeting_circulate, name="circulate"),
    path("protection/invitees/<uuid:invitee_id>/report/", views.agency_report, name="agency-report"),
    path("protection/plans/<uuid:plan_id>/", views.plan_page, name="plan"),
    path("protection/actions/<uuid:action_id>/", views.action_update, name="action"),
    # Documents (PDF): the conference record, the plan, and the decision letter to a parent.
    path("protection/meetings/<uuid:meeting_id>/record.pdf", document_views.meeting_record_pdf, name="record-pdf"),
    path("protection/plans/<uuid:plan_id>/plan.pdf", document_views.plan_pdf, name="plan-pdf"),
    path(
        "protection/meetings/<uuid:meeting_id>/letters/<uuid:invitee_id>.pdf",
        document_views.decision_letter_pdf,
        name="letter-pdf",
    ),
]
