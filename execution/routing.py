"""Websocket routes (mounted by ``ttmt_site.asgi``)."""

from django.urls import path

from execution.consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/orgs/<slug:slug>/live/", LiveConsumer.as_asgi()),
]
