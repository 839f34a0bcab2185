"""Conversation scripts for the demo: what customers write and how the team answers.

Each script is a subject and a sequence of turns; ``{first}``, ``{company}`` and ``{agent}``
are filled in per conversation. The texts read like a real support and sales inbox.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Script:
    subject: str
    turns: tuple[str, ...]  # alternating: customer first, then team, then customer…


SCRIPTS: tuple[Script, ...] = (
    Script(
        "Invoice {invoice} charged twice",
        (
            "Hi,\n\nOur card was charged twice for invoice {invoice} this month. Could you "
            "refund the duplicate? Finance is asking me about it.\n\nThanks,\n{first}",
            "Hi {first},\n\nSorry about that. I can see the two charges on {company}'s account; "
            "the second one is a retry that should have been voided. I've refunded it now and "
            "it will show on your statement in 3–5 business days.\n\nBest,\n{agent}",
            "Perfect, thank you for the quick turnaround!\n\n{first}",
        ),
    ),
    Script(
        "Can't log in after password reset",
        (
            "Hello,\n\nI reset my password this morning but the sign-in page still says my "
            "credentials are wrong. I've tried two browsers.\n\n{first}",
            "Hi {first},\n\nThanks for the details. Your account was locked after several "
            "attempts with the old password; I've unlocked it. Could you try once more and "
            "let me know?\n\n{agent}",
            "That worked. Thanks!",
        ),
    ),
    Script(
        "Pricing for {seats} seats",
        (
            "Hi there,\n\nWe're evaluating tools for our team at {company} and would need about "
            "{seats} seats. Do you offer volume pricing or an annual plan?\n\nRegards,\n{first}",
            "Hi {first},\n\nGreat to hear from you. For {seats} seats the annual plan comes with "
            "a volume discount; I've attached a quote. Would a 30-minute call this week help "
            "to walk through security and onboarding?\n\nBest,\n{agent}",
            "Thanks {agent}. Thursday afternoon works for us. Can you include our IT lead?",
            "Done: invite sent for Thursday 2pm with your IT lead on it. Talk soon!\n\n{agent}",
        ),
    ),
    Script(
        "Export to CSV is missing columns",
        (
            "Hi,\n\nWhen I export the monthly report to CSV the 'Region' and 'Owner' columns "
            "are empty, although they show in the app. Is this a known issue?\n\n{first}",
            "Hi {first},\n\nYes: it's a bug in the export when a custom view is selected. Our "
            "engineers have a fix scheduled for next week's release. Until then, exporting "
            "from the default view includes both columns.\n\n{agent}",
            "OK, the default view works as a workaround. Please let me know when the fix ships.",
            "Will do, {first}. I've linked this conversation to the bug so you'll hear from us "
            "as soon as it's out.\n\n{agent}",
        ),
    ),
    Script(
        "Renewal and contract terms",
        (
            "Hello,\n\nOur contract renews on the 1st. Before we sign, legal would like to "
            "review the updated DPA and whether the price stays the same.\n\nKind regards,\n"
            "{first}\n{company}",
            "Hi {first},\n\nAttached are the current DPA and the renewal order form. The "
            "price is unchanged for another 12 months if you renew before the 1st.\n\n{agent}",
            "Thank you. Legal has one question about sub-processors; I'll forward it shortly.",
        ),
    ),
    Script(
        "Feature request: shared views",
        (
            "Hi team,\n\nIt would help us a lot if saved views could be shared with the "
            "whole team instead of being personal. Is that on the roadmap?\n\n{first}",
            "Hi {first},\n\nThanks for the suggestion. Shared views are planned for next "
            "quarter; I've added {company} to the list of teams asking for it, so you'll get "
            "early access.\n\n{agent}",
        ),
    ),
    Script(
        "API rate limit errors since yesterday",
        (
            "Hi,\n\nSince yesterday our integration gets HTTP 429 responses every few minutes. "
            "We haven't changed anything on our side. Can you check?\n\n{first}",
            "Hi {first},\n\nI checked your API key: the calls doubled yesterday from a new "
            "job that polls every 10 seconds. The limit is 600 requests per minute; could the "
            "job poll less often or use the webhook instead?\n\n{agent}",
            "Found it, a misconfigured cron on our side. Fixed now, thanks for pointing us to it.",
        ),
    ),
    Script(
        "Onboarding session for new hires",
        (
            "Hi,\n\nWe have {seats} new people joining {company} next month. Could we book "
            "an onboarding session for them?\n\n{first}",
            "Hi {first},\n\nOf course. We run live sessions on Tuesdays and Thursdays; here "
            "is the booking link. The recording and a checklist go to everyone afterwards.\n\n"
            "{agent}",
            "Booked for Tuesday. Thanks!",
        ),
    ),
    Script(
        "Question about SSO setup",
        (
            "Hello,\n\nWe use Okta and want to enable SSO. Which plan includes SAML, and is "
            "SCIM provisioning supported?\n\n{first}",
            "Hi {first},\n\nSAML SSO is included in the Business plan and above, and SCIM "
            "provisioning works with Okta out of the box. Here's the setup guide; I'm happy "
            "to join a call with your IT team.\n\n{agent}",
        ),
    ),
    Script(
        "Downgrade request",
        (
            "Hi,\n\nWe'd like to move from the Business plan to Starter at the next billing "
            "date. Budget cuts, unfortunately.\n\n{first}",
            "Hi {first},\n\nUnderstood. Before I switch it: Starter doesn't include SSO, "
            "which {company} uses today. Would a smaller Business plan with fewer seats work "
            "instead? It would cost about the same.\n\n{agent}",
            "Good point, we hadn't noticed SSO would go. Let's do fewer seats then.",
            "Done: your plan stays Business with the new seat count from the next billing date."
            "\n\n{agent}",
        ),
    ),
)

AGENTS = ("Maya Chen", "Tom Becker", "Priya Nair", "Lucas Moreau")
