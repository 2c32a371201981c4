"""Every sentence the assistant says, in one place: templated, never generated.

None of them gives medical advice. Placeholders are filled with what the patient's
own pages would show (times in the clinic's zone, named; the medicine as the EHR
names it).
"""

WELCOME = (
    "Hello. I can book, move or cancel a visit, list your appointments, ask for a "
    "prescription refill or tell you where a request stands, draft a message to your "
    "care team, or show your balance. What would you like to do?"
)
MENU = (
    "Sorry, I did not understand that. I can: book a visit, move or cancel one, list your "
    "appointments, ask for a refill, check a refill request, write to your care team, or "
    "show what you owe. Try for example \u201cbook a visit next Tuesday afternoon\u201d."
)

EMERGENCY = (
    "This may be an emergency. Call 911 now, or go to the nearest emergency department. "
    "Do not wait for a reply here. Your care team has been alerted."
)
EMERGENCY_SELF_HARM = (
    "You can call or text 988, the Suicide & Crisis Lifeline, at any time, day or night."
)
EMERGENCY_STOPPED = (
    "This conversation was stopped because what you wrote may be an emergency. If you are "
    "safe now and want to do something else, choose \u201cStart over\u201d."
)

# Booking, moving, cancelling.
ASK_DAY = (
    "Which day would you like? For example \u201cnext Tuesday afternoon\u201d or "
    "\u201cthe 14th at 10\u201d."
)
ASK_NEW_DAY = "When would you like to move it to? For example \u201cFriday morning\u201d."
NO_SLOTS = (
    "I found no free time for that in the next weeks. Try another day or clinician, or "
    "call the clinic."
)
CHOOSE_SLOT = "These are the free times that match:"
NEAREST_SLOTS = "That exact time is not free. These are the nearest free times:"
CONFIRM_BOOK = "Book {clinician}, {when} (clinic time, {zone}), {mode}?"
BOOKED = (
    "Done: you are booked with {clinician}, {when} (clinic time, {zone}). "
    "See /patient/appointments/{id}/"
)
NO_UPCOMING = "You have no upcoming appointments that can be changed online."
CHOOSE_APPOINTMENT = "Which appointment?"
CONFIRM_CANCEL = "Cancel your visit with {clinician}, {when} (clinic time, {zone})?"
CANCELLED = "Done: your visit with {clinician}, {when} is cancelled."
CONFIRM_MOVE = (
    "Move your visit with {clinician} from {old} to {when} (clinic time, {zone}), {mode}?"
)
MOVED = (
    "Done: your visit is now with {clinician}, {when} (clinic time, {zone}). "
    "See /patient/appointments/{id}/"
)
LIST_NONE = "You have no upcoming appointments."
LIST_HEAD = "Your upcoming appointments (clinic time, {zone}):"
LIST_ROW = "{when}: {visit} with {clinician}, {place}"
APPOINTMENTS_LINK = "See all of them on /patient/appointments/"

# Refills.
CHOOSE_MEDICINE = "Which medicine would you like a refill of?"
NO_REQUESTABLE = (
    "None of your medicines can be requested online at the moment. See /patient/refills/ "
    "for the reasons, or call the clinic."
)
NOT_REQUESTABLE = "{medicine} cannot be requested online: {reason}"
CHOOSE_PHARMACY = "Which pharmacy should it go to?"
NO_PHARMACY = "No pharmacy is set up for online requests. Please call the clinic."
CONFIRM_REFILL = "Ask your care team for a {kind} of {medicine}, sent to {pharmacy}?"
REFILL_SENT = "Done: your request for {medicine} was sent to your care team. Follow it on {url}"
REFILLS_BY_FULL_PROXY = (
    "Refills for this record can only be asked for by the patient or someone with full access."
)
REFILL_STATUS_NONE = "You have no refill requests yet."
REFILL_STATUS_HEAD = "Your latest refill requests:"
REFILL_STATUS_ROW = "{medicine}: {status} (asked {when})"
REFILL_STATUS_LINK = "More on /patient/refills/"

# Messages to the care team.
DRAFTED = (
    "I can't answer medical questions, but your care team can. I drafted a message for "
    "them below: change it as you like and press \u201cSend to my care team\u201d."
)
DRAFT_SUBJECT = "Question for my care team"
MESSAGE_SENT = "Sent. Your care team will answer in your messages: /patient/messages/"
MESSAGES_BY_PATIENT = (
    "Messages to the care team are written by the patient themself in this version."
)
DRAFT_EMPTY = "The message is empty. Write what you would like to ask."

# Billing.
BALANCE = "Your balance due is {amount}. See your bills: /patient/bills/"
NO_BILLS = "Bills for this record are not shown to you. Please call the clinic's billing office."

# Confirmations and their answers.
DECLINED = "All right, nothing was done. What else can I help with?"
STALE = "That question was already answered or has changed, so nothing was done."
REFUSED = "That could not be done: {why}"
BAD_CHOICE = "Please choose one of the offered answers."
