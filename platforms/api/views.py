"""Trade platforms, their credentials and report databases, and API clients, over the API.

Error reports of these views show neither a posted password nor any local variable below the view.
"""

from dataclasses import asdict

from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, Throttled
from rest_framework.response import Response

from orgs.api.base import OrganizationScopedViewSet
from platforms import report_db, services
from platforms.api.serializers import (
    ConnectionCheckSerializer,
    ManagerApiSerializer,
    ReportAccountSerializer,
    ReportDbSerializer,
    ReportQuerySerializer,
    ReportTradeQuerySerializer,
    ReportTradeSerializer,
    TradePlatformSerializer,
)
from platforms.models import TradePlatform


class ReportDbUnavailable(APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "report_db_unavailable"


def _page_response(page: report_db.Page, serializer_class) -> Response:
    return Response(
        {
            "count": page.total,
            "page": page.page,
            "page_size": page.page_size,
            "has_next": page.has_next,
            "results": serializer_class(page.items, many=True).data,
        }
    )


@method_decorator([sensitive_post_parameters("password"), sensitive_variables()], name="dispatch")
class TradePlatformViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationScopedViewSet):
    queryset = TradePlatform.objects.select_related("manager_api", "report_db")
    serializer_class = TradePlatformSerializer
    lookup_value_converter = "int"
    required_permissions = {
        "list": "view_platforms",
        "retrieve": "view_platforms",
        "create": "manage_platforms",
        "partial_update": "manage_platforms",
        "update": "manage_platforms",
        "destroy": "manage_platforms",
        "manager_api:GET": "view_platforms",
        "manager_api:PUT": "manage_platforms",
        "manager_api:DELETE": "manage_platforms",
        "manager_api_test": "manage_platforms",
        "report_db:GET": "view_platforms",
        "report_db:PUT": "manage_platforms",
        "report_db:DELETE": "manage_platforms",
        "report_db_test": "manage_platforms",
        "report_db_accounts": "view_platforms",
        "report_db_trades": "view_platforms",
    }

    def handle_exception(self, exc):
        if isinstance(exc, services.ConnectionTestsThrottled):
            exc = Throttled(wait=exc.wait, detail=exc.summary)
        return super().handle_exception(exc)

    def create(self, request, slug):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        platform = services.platform_create(organization=self.organization, **serializer.validated_data)
        return Response(self.get_serializer(platform).data, status=status.HTTP_201_CREATED)

    def update(self, request, slug, pk, partial=False):
        platform = self.get_object()
        serializer = self.get_serializer(platform, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        platform = services.platform_update(platform=platform, **serializer.validated_data)
        return Response(self.get_serializer(platform).data)

    def partial_update(self, request, slug, pk):
        return self.update(request, slug, pk, partial=True)

    def destroy(self, request, slug, pk):
        services.platform_delete(platform=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _credentials(self, request, *, related: str, serializer_class, setter, clearer):
        platform = self.get_object()
        if request.method == "PUT":
            serializer = serializer_class(data=request.data)
            serializer.is_valid(raise_exception=True)
            credentials = setter(
                platform=platform,
                actor=self.api_client or request.user,
                request=request,
                **serializer.validated_data,
            )
            return Response(serializer_class(credentials).data)
        if request.method == "DELETE":
            clearer(platform=platform, actor=self.api_client or request.user, request=request)
            return Response(status=status.HTTP_204_NO_CONTENT)
        credentials = getattr(platform, related, None)
        if credentials is None:
            raise services.NotConfigured("No credentials are set.", code="not_configured")
        return Response(serializer_class(credentials).data)

    @extend_schema(request=ManagerApiSerializer, responses=ManagerApiSerializer)
    @action(detail=True, methods=["get", "put", "delete"], url_path="manager-api")
    def manager_api(self, request, slug, pk):
        return self._credentials(
            request,
            related="manager_api",
            serializer_class=ManagerApiSerializer,
            setter=services.manager_api_set,
            clearer=services.manager_api_clear,
        )

    @extend_schema(request=None, responses=ConnectionCheckSerializer)
    @action(detail=True, methods=["post"], url_path="manager-api/test")
    def manager_api_test(self, request, slug, pk):
        check = services.manager_api_check(platform=self.get_object())
        return Response(ConnectionCheckSerializer(asdict(check)).data)

    @extend_schema(request=ReportDbSerializer, responses=ReportDbSerializer)
    @action(detail=True, methods=["get", "put", "delete"], url_path="report-db")
    def report_db(self, request, slug, pk):
        return self._credentials(
            request,
            related="report_db",
            serializer_class=ReportDbSerializer,
            setter=services.report_db_set,
            clearer=services.report_db_clear,
        )

    @extend_schema(request=None, responses=ConnectionCheckSerializer)
    @action(detail=True, methods=["post"], url_path="report-db/test")
    def report_db_test(self, request, slug, pk):
        check = services.report_db_check(platform=self.get_object())
        return Response(ConnectionCheckSerializer(asdict(check)).data)

    def _read_report(self, reader, query):
        try:
            return reader(services.report_db_params(self.get_object()), **query)
        except report_db.ReportDbError as error:
            raise ReportDbUnavailable(error.message, code=str(error.status)) from None

    @extend_schema(parameters=[ReportQuerySerializer], responses=ReportAccountSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="report-db/accounts")
    def report_db_accounts(self, request, slug, pk):
        query = ReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return _page_response(
            self._read_report(report_db.list_accounts, query.validated_data), ReportAccountSerializer
        )

    @extend_schema(parameters=[ReportTradeQuerySerializer], responses=ReportTradeSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="report-db/trades")
    def report_db_trades(self, request, slug, pk):
        query = ReportTradeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return _page_response(
            self._read_report(report_db.list_trades, query.validated_data), ReportTradeSerializer
        )
