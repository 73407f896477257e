"""The admin routes (``/api/admin/…``, the admin token only; 404 when none is configured):
plans and assignments, add-ons (idempotent by the caller's ``id``, so a billing webhook can
retry), budgets, keys, any user's or org's meter and history, and every meter, sorted and
paginated. Every change is written to the audit log."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from llmledger.bookkeeping import KeyRecord
from llmledger.errors import LedgerError
from llmledger.gateway.api_common import ApiContext, answer, iso, query_choice, query_int
from llmledger.gateway.api_errors import ApiError
from llmledger.gateway.api_models import (
    AddonBody,
    AddonCreated,
    AddonsAnswer,
    AssignmentAnswer,
    AssignmentBody,
    AssignmentsAnswer,
    BudgetBody,
    BudgetCreated,
    BudgetsAnswer,
    HistoryAnswer,
    KeyBody,
    KeyCreated,
    KeysAnswer,
    MetersAnswer,
    PlansAnswer,
    Removed,
    Revoked,
    UsageAnswer,
)
from llmledger.gateway.api_spec import Operation, Param, decode_body
from llmledger.gateway.keys import issue_key
from llmledger.gateway.usage_api import HISTORY_PARAMS, history, meter
from llmledger.quota.plans import NANOS_PER_USD
from llmledger.quota.records import Budget, Grant

__all__ = ["AdminApi"]

_SORTS = ("subject", "used", "limit", "remaining", "percent", "plan")
_WHO = (
    Param("user", "query", {"type": "string"}, "a user id"),
    Param("org", "query", {"type": "string"}, "an org id (instead of user)"),
)
_ADMIN_ERRORS = (400, 401, 403, 404, 422)


def _one_of(user_id: str | None, org_id: str | None, where: str = "body") -> None:
    if bool(user_id) == bool(org_id):
        raise ApiError(
            422, f"{where}: give exactly one of user_id or org_id", "validation_error", "user_id"
        )


def _moment(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            422, f"body.{name}: expected an ISO 8601 time, got {text!r}", "validation_error", name
        ) from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _addon_row(grant: Grant) -> dict[str, Any]:
    return {
        "id": grant.id,
        "subject": grant.subject,
        "tokens": grant.units,
        "grantedAt": iso(grant.granted_at),
        "expiresAt": iso(grant.expires_at),
        "note": grant.note,
    }


def _key_row(record: KeyRecord) -> dict[str, Any]:
    def at(us: int | None) -> str | None:
        return None if us is None else iso(datetime.fromtimestamp(us / 1e6, timezone.utc))

    return {
        "id": record.id,
        "prefix": record.prefix,
        "userId": record.user_id,
        "orgId": record.org_id,
        "project": record.project,
        "name": record.name,
        "createdAt": at(record.created_at),
        "revokedAt": at(record.revoked_at),
        "active": record.active,
    }


def _refused(exc: LedgerError) -> ApiError:
    return ApiError(422, str(exc), "invalid_request")


class AdminApi:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    async def _admin(self, request: Request) -> str:
        """The admin's name in the audit log (its client address)."""
        await self.ctx.auth.admin(request)
        return f"admin@{request.client.host if request.client else '?'}"

    # -- plans and assignments -------------------------------------------------------------------

    async def plans(self, request: Request) -> Response:
        await self._admin(request)
        quotas = self.ctx.book.quotas
        settings = quotas.settings
        plans = {
            name: {
                "tokens": plan.tokens,
                "usd": plan.usd,
                "multiplier": plan.multiplier,
                "overage": plan.overage,
            }
            for name, plan in quotas.plans.items()
        }
        return answer(
            {
                "defaultPlan": settings.default_plan,
                "counts": settings.counts,
                "timezone": settings.timezone,
                "rollover": settings.rollover,
                "plans": plans,
            }
        )

    async def assignments(self, request: Request) -> Response:
        await self._admin(request)
        return answer({"assignments": await run_in_threadpool(self.ctx.book.assignments)})

    async def assign(self, request: Request) -> Response:
        actor = await self._admin(request)
        body = decode_body(await request.body(), AssignmentBody)
        _one_of(body.user_id, body.org_id)

        def assign() -> str:
            try:
                self.ctx.book.assign_plan(body.plan, user_id=body.user_id, org_id=body.org_id)
            except LedgerError as exc:
                raise ApiError(422, str(exc), "unknown_plan", "plan") from None
            subject = f"user:{body.user_id}" if body.user_id else f"org:{body.org_id}"
            self.ctx.audit.write("assign-plan", actor=actor, subject=subject, plan=body.plan)
            return subject

        subject = await run_in_threadpool(assign)
        self.ctx.changed(body.user_id, body.org_id)
        return answer({"subject": subject, "plan": body.plan})

    # -- add-ons -----------------------------------------------------------------------------------

    async def addons(self, request: Request) -> Response:
        await self._admin(request)
        user, org = request.query_params.get("user"), request.query_params.get("org")
        if user and org:
            _one_of(user, org, "query")
        grants = await run_in_threadpool(self.ctx.book.grants, user or None, org or None)
        return answer({"addons": [_addon_row(g) for g in grants]})

    async def add_addon(self, request: Request) -> Response:
        actor = await self._admin(request)
        body = decode_body(await request.body(), AddonBody)
        _one_of(body.user_id, body.org_id)
        expires = _moment(body.expires_at, "expires_at")

        def grant() -> tuple[Grant, bool]:
            try:
                stored, created = self.ctx.book.add_grant(
                    body.tokens,
                    user_id=body.user_id,
                    org_id=body.org_id,
                    grant_id=body.id,
                    expires_at=expires,
                    note=body.note,
                )
            except LedgerError as exc:
                raise ApiError(409 if body.id else 422, str(exc), "addon_refused", "id") from None
            self.ctx.audit.write(
                "add-on",
                actor=actor,
                subject=stored.subject,
                tokens=stored.units,
                id=stored.id,
                created=created,
            )
            return stored, created

        stored, created = await run_in_threadpool(grant)
        self.ctx.changed(body.user_id, body.org_id)
        return answer({"addon": _addon_row(stored), "created": created}, 201 if created else 200)

    # -- budgets -----------------------------------------------------------------------------------

    async def budgets(self, request: Request) -> Response:
        await self._admin(request)
        return answer({"budgets": await run_in_threadpool(self.ctx.book.budget_status)})

    async def add_budget(self, request: Request) -> Response:
        actor = await self._admin(request)
        body = decode_body(await request.body(), BudgetBody)
        if body.tokens is None and body.usd is None:
            raise ApiError(
                422, "body: a budget needs tokens, usd, or both", "validation_error", "tokens"
            )
        budget = Budget(
            id=body.id or f"budget_{body.scope}_{body.scope_id}_{body.window}"[:200],
            scope=body.scope,
            scope_id=body.scope_id,
            window=body.window,
            tokens=body.tokens,
            cost_nanos=None if body.usd is None else round(body.usd * NANOS_PER_USD),
            thresholds=tuple(body.thresholds) if body.thresholds is not None else (80, 100),
            hard=body.hard,
            created_at=datetime.now(timezone.utc),
            note=body.note,
        )

        def add() -> dict[str, Any]:
            try:
                stored = self.ctx.book.add_budget(budget)
            except LedgerError as exc:
                raise ApiError(409, str(exc), "budget_exists", "id") from None
            self.ctx.audit.write("add-budget", actor=actor, id=stored.id, subject=stored.subject)
            rows = [b for b in self.ctx.book.budget_status() if b["id"] == stored.id]
            return rows[0]

        return answer({"budget": await run_in_threadpool(add)}, 201)

    async def remove_budget(self, request: Request) -> Response:
        actor = await self._admin(request)
        budget_id = request.path_params["budget_id"]

        def remove() -> bool:
            removed = self.ctx.book.remove_budget(budget_id)
            if removed:
                self.ctx.audit.write("remove-budget", actor=actor, id=budget_id)
            return removed

        if not await run_in_threadpool(remove):
            raise ApiError(404, f"no budget {budget_id!r}", "not_found")
        return answer({"id": budget_id, "removed": True})

    # -- keys --------------------------------------------------------------------------------------

    async def keys(self, request: Request) -> Response:
        await self._admin(request)
        records = await run_in_threadpool(self.ctx.ledger.keys.all)
        return answer({"keys": [_key_row(r) for r in records]})

    async def create_key(self, request: Request) -> Response:
        actor = await self._admin(request)
        body = decode_body(await request.body(), KeyBody)

        def create() -> tuple[str, KeyRecord]:
            key, record = issue_key(
                self.ctx.ledger.keys,
                user_id=body.user_id,
                org_id=body.org_id,
                project=body.project,
                name=body.name,
            )
            self.ctx.audit.write("create-key", actor=actor, id=record.id, user=record.user_id)
            return key, record

        key, record = await run_in_threadpool(create)
        return answer({"key": key, "record": _key_row(record)}, 201)

    async def revoke_key(self, request: Request) -> Response:
        actor = await self._admin(request)
        key_id = request.path_params["key_id"]

        def revoke() -> bool:
            done = self.ctx.ledger.keys.revoke(key_id)
            if done:
                self.ctx.audit.write("revoke-key", actor=actor, id=key_id)
            return done

        if not await run_in_threadpool(revoke):
            raise ApiError(404, f"no active key {key_id!r}", "not_found")
        return answer({"id": key_id, "revoked": True})

    # -- usage -------------------------------------------------------------------------------------

    def _who(self, request: Request) -> tuple[str | None, str | None]:
        params = request.query_params
        user, org = params.get("user") or None, params.get("org") or None
        if bool(user) == bool(org):
            raise ApiError(
                422, "query: give exactly one of user or org", "invalid_parameter", "user"
            )
        return user, org

    async def usage(self, request: Request) -> Response:
        await self._admin(request)
        user, org = self._who(request)
        return answer({"summary": await run_in_threadpool(meter, self.ctx, user, org)})

    async def history(self, request: Request) -> Response:
        await self._admin(request)
        user, org = self._who(request)
        filters: dict[str, tuple[str, ...]] = (
            {"user_id": (user,)} if user else {"org_id": (str(org),)}
        )
        return await run_in_threadpool(history, self.ctx, request, filters)

    async def meters(self, request: Request) -> Response:
        await self._admin(request)
        sort = query_choice(request, "sort", _SORTS, "subject")
        order = query_choice(request, "order", ("asc", "desc"), "asc")
        limit = query_int(request, "limit", 50, 1, 1000)
        offset = query_int(request, "offset", 0, 0, 10**9)
        rows = await run_in_threadpool(self.ctx.book.meters)
        rows.sort(key=lambda row: (row[sort], row["subject"]), reverse=order == "desc")
        page = rows[offset : offset + limit]
        return answer({"meters": page, "total": len(rows), "limit": limit, "offset": offset})

    def operations(self) -> list[Operation]:
        def op(
            method: Any, path: str, summary: str, handler: Any, answer_type: type, **more: Any
        ) -> Operation:
            more.setdefault("errors", _ADMIN_ERRORS)
            return Operation(method, path, summary, handler, "admin", answer_type, **more)

        return [
            op("GET", "/api/admin/plans", "The plans and quota settings", self.plans, PlansAnswer),
            op(
                "GET",
                "/api/admin/assignments",
                "Every assigned plan by subject",
                self.assignments,
                AssignmentsAnswer,
            ),
            op(
                "PUT",
                "/api/admin/assignments",
                "Put a user or an org on a plan",
                self.assign,
                AssignmentAnswer,
                body=AssignmentBody,
            ),
            op(
                "GET",
                "/api/admin/addons",
                "Add-ons of a user, an org, or everyone",
                self.addons,
                AddonsAnswer,
                params=_WHO,
            ),
            op(
                "POST",
                "/api/admin/addons",
                "Grant add-on tokens (idempotent by id: 201 new, 200 already granted)",
                self.add_addon,
                AddonCreated,
                body=AddonBody,
                status=201,
                errors=(*_ADMIN_ERRORS, 409),
                also_ok=(200,),
            ),
            op("GET", "/api/admin/budgets", "Budgets and their use", self.budgets, BudgetsAnswer),
            op(
                "POST",
                "/api/admin/budgets",
                "Add a budget",
                self.add_budget,
                BudgetCreated,
                body=BudgetBody,
                status=201,
                errors=(*_ADMIN_ERRORS, 409),
            ),
            op(
                "DELETE",
                "/api/admin/budgets/{budget_id}",
                "Remove a budget",
                self.remove_budget,
                Removed,
                params=(Param("budget_id", "path", {"type": "string"}, "the budget's id"),),
            ),
            op("GET", "/api/admin/keys", "Every ledger key (no secrets)", self.keys, KeysAnswer),
            op(
                "POST",
                "/api/admin/keys",
                "Create a ledger key (shown once)",
                self.create_key,
                KeyCreated,
                body=KeyBody,
                status=201,
            ),
            op(
                "DELETE",
                "/api/admin/keys/{key_id}",
                "Revoke a ledger key",
                self.revoke_key,
                Revoked,
                params=(Param("key_id", "path", {"type": "string"}, "the key's id"),),
            ),
            op(
                "GET",
                "/api/admin/usage",
                "Any user's or org's meter",
                self.usage,
                UsageAnswer,
                params=_WHO,
            ),
            op(
                "GET",
                "/api/admin/usage/history",
                "Any user's or org's usage per day, model, provider or key",
                self.history,
                HistoryAnswer,
                params=(*_WHO, *HISTORY_PARAMS),
                also_csv=True,
            ),
            op(
                "GET",
                "/api/admin/meters",
                "Every user's and org's meter, sorted and paginated",
                self.meters,
                MetersAnswer,
                params=(
                    Param("sort", "query", {"type": "string", "enum": list(_SORTS)}, "sort key"),
                    Param("order", "query", {"type": "string", "enum": ["asc", "desc"]}, "order"),
                    Param(
                        "limit",
                        "query",
                        {"type": "integer", "minimum": 1, "maximum": 1000},
                        "rows per page (default 50)",
                    ),
                    Param(
                        "offset",
                        "query",
                        {"type": "integer", "minimum": 0},
                        "rows to skip",
                    ),
                ),
            ),
        ]
