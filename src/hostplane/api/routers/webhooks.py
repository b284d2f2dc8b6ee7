"""Webhooks, as the official client manages them: create (secret once), list, get, change,
delete, test, rotate the secret, and the delivery history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from hostplane.api.deps import RequestContext, container_of, needs
from hostplane.api.envelopes import Data
from hostplane.webhooks import deliver, service
from hostplane.webhooks.schemas import (
    DeliveryPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
    WebhookUpdate,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
Manager = Annotated[RequestContext, needs("webhook:manage")]


@router.post("", response_model=WebhookCreated, status_code=201,
             summary="Send events to an endpoint; the signing secret is in this answer only")
async def create_webhook(body: WebhookCreate, ctx: Manager) -> WebhookCreated:
    record = await ctx.run(service.create, body.url, body.events, body.description, ctx.now,
                           allow_loopback=ctx.settings.webhook_allow_loopback)
    return WebhookCreated(data=WebhookPublic.of(record), secret=record.secret)


@router.get("", response_model=Data[list[WebhookPublic]], summary="This organization's webhooks")
async def list_webhooks(ctx: Manager) -> Data[list[WebhookPublic]]:
    return Data(data=[WebhookPublic.of(w) for w in await ctx.run(service.list_all)])


@router.get("/{webhook_id}", response_model=Data[WebhookPublic], summary="One webhook")
async def get_webhook(webhook_id: str, ctx: Manager) -> Data[WebhookPublic]:
    return Data(data=WebhookPublic.of(await ctx.run(service.get, webhook_id)))


@router.patch("/{webhook_id}", response_model=Data[WebhookPublic],
              summary="Change the URL, events or description; enabled: true re-opens a webhook "
                      "disabled after failing")
async def update_webhook(webhook_id: str, body: WebhookUpdate,
                         ctx: Manager) -> Data[WebhookPublic]:
    record = await ctx.run(service.update, webhook_id, body.model_dump(exclude_unset=True),
                           ctx.now, allow_loopback=ctx.settings.webhook_allow_loopback)
    return Data(data=WebhookPublic.of(record))


@router.delete("/{webhook_id}", response_model=Data[WebhookPublic],
               summary="Stop sending to it and forget it")
async def delete_webhook(webhook_id: str, ctx: Manager) -> Data[WebhookPublic]:
    record = await ctx.run(service.get, webhook_id)
    await ctx.run(service.delete, webhook_id)
    return Data(data=WebhookPublic.of(record))


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookCreated,
             summary="A new signing secret; the old one also signs for 24 hours")
async def rotate_secret(webhook_id: str, ctx: Manager) -> WebhookCreated:
    record = await ctx.run(service.rotate, webhook_id, ctx.now)
    return WebhookCreated(data=WebhookPublic.of(record), secret=record.secret)


@router.post("/{webhook_id}/test", response_model=Data[DeliveryPublic],
             summary="Send a webhook.test event now and answer what the endpoint said")
async def test_webhook(webhook_id: str, ctx: Manager, request: Request) -> Data[DeliveryPublic]:
    webhook = await ctx.run(service.get, webhook_id)
    # The organization's own share of outbound work: a slow endpoint waits behind itself,
    # never in the threads every other request needs.
    body, sent = await ctx.call(deliver.send_test, container_of(request), webhook, ctx.now)
    delivery = await ctx.run(deliver.record_test, webhook, body, sent, ctx.now)
    return Data(data=DeliveryPublic.of(delivery))


@router.get("/{webhook_id}/deliveries", response_model=Data[list[DeliveryPublic]],
            summary="Recent delivery attempts, newest first")
async def list_deliveries(webhook_id: str, ctx: Manager,
                          limit: Annotated[int, Query(ge=1, le=200)] = 50,
                          ) -> Data[list[DeliveryPublic]]:
    found = await ctx.run(service.deliveries, webhook_id, limit)
    return Data(data=[DeliveryPublic.of(d) for d in found])
