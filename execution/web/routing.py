"""Websocket routes (mounted by ``ttmt_site.asgi``)."""

from django.urls import path

from execution.web.consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/orgs/<slug:slug>/live/", LiveConsumer.as_asgi()),
]
