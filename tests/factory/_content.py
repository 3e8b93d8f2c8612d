"""What each kind of page says: invented people, places and text, chosen by a seeded random.

Every name here is made up. A page is a list of blocks that ``_draw`` lays out:
("letterhead", style, lines), ("line", text, style), ("para", text), ("heading", text),
("gap", mm), ("table", rows), ("check", text, ticked), ("signature", label), ("qr", url),
("crest", name), ("hand", text).
"""

from __future__ import annotations

import random

SERVICE = "Parent Partnership Service"
SERVICE_ADDRESS = ("Unit 7, Larchmont Education Centre", "Quillfield Road, Exampleton ZZ9 4PQ",
                   "Telephone 01632 960 418")
PARENTS = ("Ms Alys Fenwright", "Mr Tobias Quell", "Mrs Rhiannon Daskell", "Mr Idris Pembury",
           "Ms Coralie Vantor", "Mr Osric Hallowby")
CHILDREN = ("Elowen", "Caspian", "Marnie", "Rafferty", "Ottilie", "Bramwell")
STREETS = ("14 Wrenfield Close", "3 Tamsin Row", "27 Hollin Gate", "9 Pellow Crescent")
SCHOOLS = ("Brookfield Primary School", "Larkhill Academy", "St Enodoc Junior School")
WORKERS = ("Ruth Ambley", "Dev Chaudry-Hale", "Nia Prothero")  # invented staff
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "September",
          "October", "November")

_PPS = [
    "Thank you for meeting me at the centre last week to talk about the support at school.",
    "As we agreed, I have written to the school to ask for a meeting with the special educational needs coordinator.",
    "I enclose a copy of the information leaflet about requesting an assessment of special educational needs.",
    "Please let me know if you would like me to come with you to the review meeting next month.",
    "You can contact the service on the number above if anything changes before then.",
    "We will keep the information you have given us confidential, as explained in our policy.",
]
_SCHOOL = [
    "We are writing to invite you to the annual review of the support plan for your child.",
    "The meeting will be held in the school library and should last about one hour.",
    "Please bring any reports or letters from other professionals that you would like to share.",
    "The class teacher and the special educational needs coordinator will both attend.",
    "If the date is not convenient, please telephone the school office to arrange another time.",
]
_SEN = [
    "Following the request for an Education, Health and Care needs assessment, the local authority has considered the evidence.",
    "The panel met on the date above and decided to carry out an assessment of special educational needs.",
    "We will now ask for advice from the school, the educational psychologist and health professionals.",
    "You have the right to give your own views and to send us any information you think is relevant.",
    "The statutory timescale for this process is twenty weeks from the date of the request.",
]
_EHCP = [
    "Communication and interaction: has difficulty following spoken instructions in a busy classroom.",
    "Cognition and learning: reading and spelling are below the level expected for age.",
    "Social, emotional and mental health: becomes anxious at times of change and transition.",
    "Sensory and physical: finds noisy environments difficult and benefits from a quiet space.",
]
_EP = [
    "I was asked to provide psychological advice as part of the statutory assessment.",
    "Information was gathered through consultation with staff, observation in class and individual assessment.",
    "Verbal reasoning skills were found to be within the average range for age.",
    "Working memory and processing speed were relative weaknesses and affect access to learning.",
    "Recommendations include small group teaching, visual supports and regular checks on understanding.",
]
_NOTE = [
    "Phone call with parent about the review meeting.",
    "Parent worried that the support plan is not being followed in class.",
    "Agreed to send information about mediation and the tribunal.",
    "Will call back on Friday after speaking to the school.",
    "Parent happy for us to contact the school on her behalf.",
]


def _date(rng: random.Random) -> str:
    return f"{rng.randint(1, 28)} {rng.choice(MONTHS)} 2024"


def _paras(rng: random.Random, pool: list[str], n: int) -> list[tuple]:
    picked = rng.sample(pool, min(n, len(pool)))
    return [("para", " ".join(picked[i::2])) for i in range(2) if picked[i::2]]


def _closing(rng: random.Random, page: int, pages: int) -> list[tuple]:
    if page < pages:
        return [("gap", 8), ("line", f"Page {page} of {pages}", "small-center")]
    out = [("gap", 6), ("line", "Yours sincerely", "body"), ("signature", ""),
           ("line", rng.choice(WORKERS), "body")]
    if pages > 1:
        out += [("gap", 4), ("line", f"Page {page} of {pages}", "small-center")]
    return out


#: how a case reference may be written on a page: as printed by the service, or as people write it
REF_STYLES = ("plain", "spaced", "lower", "broken")


def written_ref(ref: str, style: str) -> list[str]:
    """``ref`` as written in ``style``, one string a printed line: "PPS- 2024-0137" (spaced),
    "pps 2024 0137" (lower), "PPS-2024-" then "0137" on the next line (broken)."""
    if style == "plain":
        return [ref]
    if style == "spaced":
        return [ref.replace("-", "- ", 1)]
    if style == "lower":
        return [ref.lower().replace("-", " ")]
    if style == "broken":
        head, _, tail = ref.rpartition("-")
        return [head + "-", tail]
    raise ValueError(f"ref style must be one of {REF_STYLES}")


def _labelled(label: str, ref: str, style: str, line_style: str = "body") -> list[tuple]:
    first, *rest = written_ref(ref, style)
    return [("line", f"{label}{first}", line_style), *[("line", more, line_style) for more in rest]]


def blocks(kind: str, rng: random.Random, case_ref: str | None, ref_in_text: bool, page: int,
           pages: int, ref_style: str = "plain", every_page: bool = False) -> list[tuple]:
    """The blocks of one page. ``every_page``: the reference heads every page (as some offices'
    letters and forms do), not only the first."""
    ref_line = _labelled("Our reference: ", case_ref, ref_style) if (ref_in_text and case_ref and page == 1) else []
    header = _labelled("Ref ", case_ref, ref_style, "right") if (ref_in_text and case_ref and every_page) else []
    return header + _blocks(kind, rng, case_ref, ref_in_text, page, pages, ref_line, ref_style)


def _blocks(kind: str, rng: random.Random, case_ref: str | None, ref_in_text: bool, page: int, pages: int,
            ref_line: list[tuple], ref_style: str) -> list[tuple]:
    parent, child, street = rng.choice(PARENTS), rng.choice(CHILDREN), rng.choice(STREETS)
    surname = parent.split()[-1]
    if kind == "pps-letter":
        head = [("letterhead", "pps", (SERVICE, *SERVICE_ADDRESS))]
        if page == 1:
            head += [("line", _date(rng), "right"), ("line", parent, "body"), ("line", street, "body"),
                     ("line", "Exampleton ZZ9 2AB", "body"), ("gap", 4), *ref_line,
                     ("line", f"Dear {parent.split()[0]} {surname},", "body")]
        return head + _paras(rng, _PPS, 4) + _closing(rng, page, pages)
    if kind == "school-letter":
        school = rng.choice(SCHOOLS)
        head = [("crest", school), ("qr", "https://www.brookfield-primary.example.org/parents/reviews")]
        if page == 1:
            head += [("line", _date(rng), "right"), *ref_line,
                     ("line", f"Dear Parent or Carer of {child} {surname},", "body")]
        return head + _paras(rng, _SCHOOL, 4) + _closing(rng, page, pages)
    if kind == "sen-letter":
        head = [("letterhead", "council", ("Exampleton Borough Council", "Special Educational Needs Team",
                                           "Civic Offices, Exampleton ZZ9 1CC"))]
        if page == 1:
            head += [("line", _date(rng), "right"), ("line", f"Our ref: SEN/2024/{rng.randint(1000, 9999)}", "body"),
                     *(_labelled("PPS reference: ", case_ref, ref_style) if ref_line else []),
                     ("line", f"Dear {parent.split()[0]} {surname},", "body"),
                     ("heading", f"Education, Health and Care needs assessment for {child}")]
        return head + _paras(rng, _SEN, 4) + _closing(rng, page, pages)
    if kind == "ehcp":
        rows = [("Area of need", "Provision")] + [tuple(s.split(": ", 1)) for s in rng.sample(_EHCP, 3)]
        head = [("heading", "Education, Health and Care Plan (excerpt)"),
                ("line", f"Name of child: {child} {surname}", "body"), *ref_line,
                ("heading", "Section B: Special educational needs")]
        return head + [("table", rows)] + _paras(rng, _EHCP, 2) + [("gap", 6), ("line", f"Page {page} of {pages}", "small-center")]
    if kind == "ep-report":
        head = [("letterhead", "ep", ("Exampleton Educational Psychology Service", "Psychological advice"))]
        if page == 1:
            head += [("line", f"Child: {child} {surname}", "body"), ("line", f"Date of report: {_date(rng)}", "body"),
                     *ref_line, ("heading", "Background")]
        else:
            head += [("heading", "Assessment and recommendations")]
        return head + _paras(rng, _EP, 4) + [("gap", 6), ("line", f"Page {page} of {pages}", "small-center")]
    if kind == "consent":
        head = [("letterhead", "pps", (SERVICE, *SERVICE_ADDRESS)), ("heading", "Consent form"),
                *(_labelled("Case reference: ", case_ref, ref_style) if ref_in_text and case_ref else []),
                ("para", "I give the Parent Partnership Service permission to keep information about my "
                         "family and to contact the people ticked below when it is needed to move my case on.")]
        parties = ["SEN Team", "School", "Educational Psychologist", "Social Care", "Health"]
        checks = [("check", p, rng.random() < 0.7) for p in parties]
        return head + checks + [("gap", 6), ("signature", "Signed (parent/carer):"),
                                ("line", f"Date: {_date(rng)}", "body")]
    if kind == "note":
        lines = [f"Case note {_date(rng)}"] + ([f"Ref {' '.join(written_ref(case_ref, ref_style))}"]
                                               if ref_in_text and case_ref else [])
        lines += rng.sample(_NOTE, 4)
        return [("hand", line) for line in lines]
    raise ValueError(f"unknown page kind {kind!r}")
