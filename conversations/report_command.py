"""``/laporan [YYYY-MM]`` in an officers' chat: the month's report as a chart and a workbook.

The admin group gets the whole city; an agency's own group or topic gets that
agency's complaints only, whoever asks there. An agency officer asking in the
admin group gets their own agency's. The report is queued as a request in the
outbox (see ``conversations.core.reports``); this only checks and queues it.
"""

from __future__ import annotations

import logging

from conversations.core.context import CoreContext
from conversations.core.indicators import Period
from conversations.core.messages import Inbound
from conversations.core.ports import UnitOfWork
from conversations.core.reports import ReportRequest, request_report

log = logging.getLogger(__name__)


async def report_command(
    ctx: CoreContext,
    uow: UnitOfWork,
    inbound: Inbound,
    desk: bool,
    agencies: frozenset[str],
    chat_agency: str | None,
) -> str | None:
    """Queue the report the officer asked for; returns the answer when nothing is queued."""
    lang = ctx.catalog.default
    today = ctx.local(ctx.clock.now()).date()
    argument = inbound.args.strip()
    try:
        period = Period.parse_month(argument.split()[0]) if argument else Period.month_of(today)
    except ValueError:
        return ctx.t(lang, "report.usage")
    if period.start > today:
        return ctx.t(lang, "report.future", month=period.label)
    agency = chat_agency
    if agency is None and not desk:
        if len(agencies) != 1:
            return ctx.t(lang, "report.own_chat")
        agency = next(iter(agencies))
    if agency is not None and not desk and agency not in agencies:
        log.info("refused /laporan of agency %s from user %s", agency, inbound.sender.user_id)
        return ctx.t(lang, "officer.other_agency")
    await request_report(
        uow,
        inbound.chat,
        ReportRequest(period, agency, lang),
        f"report:{inbound.update_key}",
        reply_to=inbound.message_id,
    )
    return None
