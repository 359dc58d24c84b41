"""A plain DRF list view and two minimal endpoints differing only in authentication."""

from rest_framework import generics, serializers
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from benchmarks.baseline.models import PlainSecret
from secretvault.api.authentication import ServiceTokenAuthentication


class PlainSecretSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlainSecret
        fields = ["key", "value"]


class PlainSecretList(generics.ListAPIView):
    """``GET /plain/<group>/``: every row of a group, session-less, no auth, no pagination."""

    serializer_class = PlainSecretSerializer
    authentication_classes: list = []
    permission_classes = [AllowAny]
    pagination_class = None

    def get_queryset(self):
        return PlainSecret.objects.filter(group=self.kwargs["group"]).order_by("key")


class Ping(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"ok": True})


class PingServiceToken(Ping):
    authentication_classes = [ServiceTokenAuthentication]


class PingDRFToken(Ping):
    authentication_classes = [TokenAuthentication]
