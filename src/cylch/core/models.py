"""Shared model bases, and core's one table: the background worker's heartbeat."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class BaseModel(models.Model):
    """Created/modified stamps and a public UUID that is safe to put in URLs."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        abstract = True


class WorkerHeartbeat(models.Model):
    """The last round of ``cylch worker``, rewritten each round (``cylch.core.heartbeat``), so
    ``/healthz/worker`` can tell a monitor that the clocks and the outbox are running (HAZ-004).

    Not audited: it is the machine's pulse, once a minute, about no one."""

    name = models.SlugField(max_length=40, unique=True, help_text="Which worker: one row per name ('worker').")
    host = models.CharField(max_length=200, blank=True, help_text="Host and process id of the last writer.")
    started_at = models.DateTimeField(
        help_text="When the latest round started (later than finished_at while one runs)."
    )
    finished_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last round finished; empty until one has."
    )
    rounds = models.PositiveBigIntegerField(default=0, help_text="Rounds finished since the row was made.")
    results = models.JSONField(default=dict, blank=True, help_text="What each job returned in the last finished round.")
    failed_jobs = models.JSONField(
        default=list, blank=True, help_text="The jobs that raised in the last finished round."
    )

    def __str__(self) -> str:
        return f"{self.name}: round {self.rounds} finished {self.finished_at}"
