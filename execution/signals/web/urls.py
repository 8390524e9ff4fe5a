from django.urls import path

from execution.signals.web import pages

app_name = "signals"
urlpatterns = [
    path("", pages.SignalFeedView.as_view(), name="feed"),
    path("tester/", pages.SignalTesterView.as_view(), name="tester"),
    path("decisions/<int:pk>/", pages.DecisionView.as_view(), name="decision"),
    path("sources/", pages.SourceListView.as_view(), name="sources"),
    path("sources/<int:pk>/", pages.SourceDetailView.as_view(), name="source"),
    path("sources/<int:pk>/edit/", pages.SourceEditView.as_view(), name="source_edit"),
    path("sources/<int:pk>/rotate-secret/", pages.SourceRotateView.as_view(), name="source_rotate"),
    path("sources/<int:pk>/delete/", pages.SourceDeleteView.as_view(), name="source_delete"),
    path("sources/<int:pk>/messages/", pages.MessagePostView.as_view(), name="message_post"),
    path("sources/<int:pk>/routes/", pages.RouteAddView.as_view(), name="route_add"),
    path("routes/<int:pk>/", pages.RouteEditView.as_view(), name="route"),
    path("routes/<int:pk>/delete/", pages.RouteDeleteView.as_view(), name="route_delete"),
]
